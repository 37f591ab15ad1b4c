import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';

/* eslint-disable @nx/enforce-module-boundaries --
   The services' configuration schemas are the contract the compose files must meet: this check
   reads them, and nothing else of the services. */
import { dispatcherConfigSchema } from '@herald/dispatcher';
import { gatewayConfigSchema } from '@herald/gateway';
import { heartbeatConfigSchema } from '@herald/heartbeat';
import { loadConfig, requireNatsUrl } from '@herald/platform';
import { pushConfigSchema } from '@herald/push';
import { vaultwardenBridgeConfigSchema } from '@herald/vaultwarden';
/* eslint-enable @nx/enforce-module-boundaries */
import { WORKSPACE_ROOT } from '@herald/testing';

const SCHEMAS = {
  gateway: gatewayConfigSchema,
  dispatcher: dispatcherConfigSchema,
  'push-worker': pushConfigSchema,
  heartbeat: heartbeatConfigSchema,
} as const;

/** What production requires, as an operator would set it in .env. */
const PRODUCTION = {
  HERALD_NATS_PASSWORD: 'nats-secret',
  HERALD_POSTGRES_PASSWORD: 'pg-secret',
  HERALD_SITE_ADDRESS: 'notifications.example.com',
  HERALD_DASHBOARD_PASSWORD_HASH:
    'JDJhJDE0JFJPZHU4dUdYbXdUdEllV3gyWDd6TGVTb3cuZVZNNGVUSjg2MGh2UTdtaW9GMGJwNUVuM3px',
  HERALD_JWT_PUBLIC_KEY: '/keys/identity.pem',
  HERALD_JWT_ISSUER: 'https://vault.example.com/identity',
};

interface ComposeService {
  image?: string;
  build?: { args?: Record<string, string> };
  ports?: unknown[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
  healthcheck?: unknown;
}

/** `docker-compose config`: the files merged and interpolated, as Compose itself reads them. */
function composeConfig(
  files: string[],
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string } {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('HERALD_')),
  );
  const result = spawnSync('docker-compose', [...files.flatMap((file) => ['-f', file]), 'config'], {
    cwd: WORKSPACE_ROOT,
    env: { ...inherited, ...env },
    encoding: 'utf8',
  });
  if (result.error)
    throw new Error(
      `docker-compose is not installed (apt-get install docker-compose): ${result.error.message}`,
    );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function services(stdout: string): Record<string, ComposeService> {
  return (parse(stdout) as { services: Record<string, ComposeService> }).services;
}

describe('docker-compose.yml', () => {
  const development = composeConfig(['docker-compose.yml']);
  const production = composeConfig(['docker-compose.yml', 'docker-compose.prod.yml'], PRODUCTION);

  it('is valid for Compose, alone and with the production override', () => {
    expect(development).toMatchObject({ code: 0 });
    expect(production).toMatchObject({ code: 0 });
  });

  it('publishes no host port but the edge proxy', () => {
    for (const config of [development, production]) {
      const published = Object.entries(services(config.stdout))
        .filter(([, service]) => (service.ports ?? []).length > 0)
        .map(([name]) => name);
      expect(published).toEqual(['edge']);
    }
  });

  it('pins every image it pulls to a version', () => {
    for (const [name, service] of Object.entries(services(development.stdout))) {
      if (service.build) continue;
      expect({ name, image: service.image }).toEqual({
        name,
        image: expect.stringMatching(/^[a-z0-9/._-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$/),
      });
    }
  });

  it('gives every Herald service the variables its configuration requires, in development and production', () => {
    for (const [label, config] of [
      ['development', development],
      ['production', production],
    ] as const) {
      const all = services(config.stdout);
      for (const [name, schema] of Object.entries(SCHEMAS)) {
        const service = all[name];
        expect({ label, name, exists: Boolean(service) }).toEqual({ label, name, exists: true });
        expect(service!.build?.args?.['APP']).toBe(name);
        expect(existsSync(join(WORKSPACE_ROOT, 'apps', name, 'src', 'main.ts'))).toBe(true);
        const env = Object.fromEntries(
          Object.entries(service!.environment ?? {}).map(([key, value]) => [key, value ?? '']),
        );
        // Throws, naming the variable, for anything missing or malformed.
        const parsed = loadConfig(schema, env);
        expect(() => requireNatsUrl(name, parsed.HERALD_NATS_URL)).not.toThrow();
        if (label === 'production')
          expect(parsed.HERALD_NATS_URL).toBe('nats://herald:nats-secret@nats:4222');
        // Health-gated start: NATS is ready before any service starts.
        expect(service!.depends_on?.['nats']).toEqual({ condition: 'service_healthy' });
        expect(service!.healthcheck).toBeDefined();
      }
    }
  });

  it('gives the Vaultwarden bridge (profile vaultwarden) its variables once its database is named', () => {
    const database = {
      HERALD_VAULTWARDEN_DATABASE_URL: 'postgres://vaultwarden:secret@vw-db:5432/vaultwarden',
    };
    for (const [label, config] of [
      ['development', composeConfig(['docker-compose.yml'], database)],
      [
        'production',
        composeConfig(['docker-compose.yml', 'docker-compose.prod.yml'], { ...PRODUCTION, ...database }),
      ],
    ] as const) {
      const bridge = services(config.stdout)['vaultwarden-bridge'] as ComposeService & {
        profiles?: string[];
      };
      expect({ label, profiles: bridge.profiles, app: bridge.build?.args?.['APP'] }).toEqual({
        label,
        profiles: ['vaultwarden'],
        app: 'vaultwarden-bridge',
      });
      const env = Object.fromEntries(
        Object.entries(bridge.environment ?? {}).map(([key, value]) => [key, value ?? '']),
      );
      const parsed = loadConfig(vaultwardenBridgeConfigSchema, env);
      expect(parsed.HERALD_VAULTWARDEN_DATABASE_URL).toBe(database.HERALD_VAULTWARDEN_DATABASE_URL);
      if (label === 'production') expect(parsed.HERALD_NATS_URL).toBe('nats://herald:nats-secret@nats:4222');
      expect(bridge.depends_on?.['nats']).toEqual({ condition: 'service_healthy' });
      expect(bridge.healthcheck).toBeDefined();
    }
  });

  it('in production: NATS demands the password, and the edge serves the domain with the dashboard credential', () => {
    const all = services(production.stdout);
    expect(all['nats']!.command).toEqual(
      expect.arrayContaining(['--user', 'herald', '--pass', 'nats-secret']),
    );
    expect(all['edge']!.environment).toMatchObject({
      HERALD_SITE_ADDRESS: 'notifications.example.com',
      HERALD_DASHBOARD_PASSWORD_HASH: PRODUCTION.HERALD_DASHBOARD_PASSWORD_HASH,
    });
  });

  it('in production: refuses to start without each required secret, naming it', () => {
    for (const missing of Object.keys(PRODUCTION)) {
      const without = Object.fromEntries(Object.entries(PRODUCTION).filter(([key]) => key !== missing));
      const result = composeConfig(['docker-compose.yml', 'docker-compose.prod.yml'], without);
      expect({ missing, code: result.code }).toEqual({ missing, code: 1 });
      expect(result.stderr).toContain(`set ${missing}`);
    }
  });

  it('routes the edge to services that exist, and its Caddyfile is valid for Caddy', () => {
    const all = services(development.stdout);
    const caddyfile = readFileSync(join(WORKSPACE_ROOT, 'deploy', 'caddy', 'Caddyfile'), 'utf8');
    const edgeEnv = all['edge']!.environment ?? {};
    for (const variable of ['HERALD_GATEWAY_NAME', 'HERALD_PUSH_NAME', 'HERALD_HEARTBEAT_NAME']) {
      expect(caddyfile).toContain(`{$${variable}:`);
      expect(Object.keys(all)).toContain(edgeEnv[variable]);
    }
    const validate = spawnSync(
      'caddy',
      ['validate', '--config', 'deploy/caddy/Caddyfile', '--adapter', 'caddyfile'],
      {
        cwd: WORKSPACE_ROOT,
        env: {
          ...process.env,
          ...(edgeEnv as Record<string, string>),
          XDG_DATA_HOME: '/tmp/herald-caddy-validate',
        },
        encoding: 'utf8',
      },
    );
    expect({ code: validate.status, output: validate.stderr.slice(-500) }).toMatchObject({ code: 0 });
  });
});
