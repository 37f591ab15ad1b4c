import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  deleteNamespace,
  DnsServer,
  eventually,
  freePort,
  HubClient,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
  WORKSPACE_ROOT,
} from '@herald/testing';

const CADDYFILE = join(WORKSPACE_ROOT, 'deploy', 'caddy', 'Caddyfile');
const NGINX_LOCATIONS = join(WORKSPACE_ROOT, 'deploy', 'nginx', 'herald-locations.conf');
const CLI = join(WORKSPACE_ROOT, 'dist', 'cli', 'apps', 'cli', 'src', 'main.js');

/** Waits until `url` answers at all (the proxy listens). */
async function listening(url: string): Promise<void> {
  await eventually(
    async () => {
      await fetch(url);
    },
    { timeoutMs: 15_000 },
  );
}

/**
 * `herald doctor` as a child process, awaited without blocking: the DNS server the edge asks lives
 * in this process, and a blocked event loop would leave Caddy's lookups unanswered.
 */
function runDoctor(url: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'doctor', url, '--timeout', '10s']);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * The repository's edge configuration (deploy/caddy/Caddyfile, as docker-compose.yml runs it)
 * started for real with Debian's Caddy in front of two gateway processes, which a DNS server
 * lists under one name the way Docker's DNS lists the replicas of a scaled service. The real
 * SignalR client connects through it to both hubs, with negotiate and without; `herald doctor`
 * reads it; and the nginx locations of the operator guide run in front of the same gateways.
 */
describe('the edge proxy in front of two gateways', () => {
  const namespace = testNamespace('edge');
  const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
  const work = mkdtempSync(join(tmpdir(), 'herald-edge-'));
  let issuer: TestIssuer;
  let dns: DnsServer;
  let gateways: ServiceProcess[] = [];
  let dispatcher: ServiceProcess;
  let caddy: ChildProcess;
  let edge: string;
  const caddyOutput: string[] = [];
  const clients: HubClient[] = [];

  beforeAll(async () => {
    issuer = await TestIssuer.create({ issuer: 'http://localhost|login' });
    // Both gateways on one port, on two loopback addresses: one DNS name, two replicas.
    const port = await freePort();
    const gatewayEnv = {
      ...env,
      HERALD_GATEWAY_PORT: String(port),
      HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
      HERALD_JWT_ISSUER: issuer.issuer,
      HERALD_TRUSTED_PROXIES: '127.0.0.1',
    };
    [dispatcher, ...gateways] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('gateway', {
        ...gatewayEnv,
        HERALD_HOST: '127.0.0.2',
        HERALD_GATEWAY_ID: 'edge-a',
      }),
      ServiceProcess.start('gateway', {
        ...gatewayEnv,
        HERALD_HOST: '127.0.0.3',
        HERALD_GATEWAY_ID: 'edge-b',
      }),
    ]);
    dns = await DnsServer.start({ 'gateway.herald.test': ['127.0.0.2', '127.0.0.3'] });
    const edgePort = await freePort();
    edge = `http://127.0.0.1:${edgePort}`;
    caddy = spawn('caddy', ['run', '--config', CADDYFILE, '--adapter', 'caddyfile'], {
      env: {
        ...process.env,
        XDG_DATA_HOME: join(work, 'data'),
        XDG_CONFIG_HOME: join(work, 'config'),
        HERALD_SITE_ADDRESS: `http://127.0.0.1:${edgePort}`,
        HERALD_EDGE_RESOLVER: `udp/${dns.address}`,
        HERALD_GATEWAY_NAME: 'gateway.herald.test',
        HERALD_GATEWAY_UPSTREAM_PORT: String(port),
        HERALD_PUSH_NAME: 'push.herald.test',
        HERALD_HEARTBEAT_NAME: 'heartbeat.herald.test',
        // base64 of a bcrypt hash: the dashboard is not exercised here.
        HERALD_DASHBOARD_PASSWORD_HASH:
          'JDJhJDE0JFJPZHU4dUdYbXdUdEllV3gyWDd6TGVTb3cuZVZNNGVUSjg2MGh2UTdtaW9GMGJwNUVuM3px',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    caddy.stdout?.on('data', (chunk: Buffer) => caddyOutput.push(chunk.toString()));
    caddy.stderr?.on('data', (chunk: Buffer) => caddyOutput.push(chunk.toString()));
    await listening(`${edge}/notifications/alive`).catch((error: unknown) => {
      throw new Error(`caddy did not start: ${String(error)}\n${caddyOutput.join('').slice(-3000)}`);
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await stopProcess(caddy);
    await Promise.all([dispatcher, ...gateways].map((service) => service?.stop()));
    await dns?.close();
    await deleteNamespace(namespace);
    rmSync(work, { recursive: true, force: true });
  });

  async function send(userId: string, marker: string): Promise<void> {
    // The vault API reaches a gateway on the internal network, never through the edge.
    const response = await fetch(`${gateways[0]!.url}/notifications/send`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${await issuer.internalToken()}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        type: 12,
        payload: { Id: marker, UserId: userId, RevisionDate: new Date().toISOString() },
        contextId: null,
      }),
    });
    expect(response.status).toBe(200);
  }

  it('spreads hub clients over the gateways behind one name, with negotiate and without, and carries both hubs', async () => {
    const userId = randomUUID();
    const token = await issuer.userToken(userId);
    // Bitwarden's clients skip negotiation: the edge spreads them over both replicas.
    for (let index = 0; index < 20; index += 1) {
      clients.push(await HubClient.connect(`${edge}/notifications/hub`, { token }));
    }
    const perGateway = await Promise.all(
      gateways.map((gateway) => gateway.metric('herald_gateway_connections')),
    );
    expect(perGateway.reduce((sum, count) => sum + count, 0)).toBe(20);
    // Chosen at random per connection: 20 on one replica would happen once in half a million runs.
    expect(Math.min(...perGateway)).toBeGreaterThan(0);
    // Clients that negotiate stay on the gateway that negotiated them (the edge's cookie).
    for (let index = 0; index < 4; index += 1) {
      clients.push(await HubClient.connect(`${edge}/notifications/hub`, { token, skipNegotiation: false }));
    }

    const marker = randomUUID();
    await send(userId, marker);
    for (const client of clients) {
      await client.next((message) => JSON.stringify(message.args).includes(marker));
    }

    // Login with device: the anonymous hub through the edge, both ways of connecting.
    for (const skipNegotiation of [true, false]) {
      const requestId = randomUUID();
      const waiting = await HubClient.connect(`${edge}/notifications/anonymous-hub?Token=${requestId}`, {
        skipNegotiation,
      });
      clients.push(waiting);
      const response = await fetch(`${gateways[1]!.url}/notifications/send`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${await issuer.internalToken()}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ type: 16, payload: { Id: requestId, UserId: userId }, contextId: null }),
      });
      expect(response.status).toBe(200);
      const answer = await waiting.next((message) => message.target === 'AuthRequestResponseRecieved');
      expect(JSON.stringify(answer.args)).toContain(requestId);
    }
  });

  it('keeps /send and the control routes off the public edge', async () => {
    for (const path of ['/notifications/send', '/send', `/notifications/users/${randomUUID()}/disconnect`]) {
      const response = await fetch(`${edge}${path}`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${await issuer.internalToken()}`,
          'Content-Type': 'application/json',
        },
        body: '{}',
      });
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
  });

  it('passes herald doctor on everything but https', async () => {
    const { code, output } = await runDoctor(edge);

    expect(output).toContain('✔ /notifications/hub upgrades to WebSocket');
    expect(output).toContain('✔ /notifications/anonymous-hub upgrades to WebSocket');
    expect(output).toContain('✔ negotiate is reachable');
    expect(output).toContain('✔ /notifications/send is not reachable from outside');
    expect(output).toContain('✔ /notifications/users/<id>/disconnect is not reachable from outside');
    expect(output).toContain('✔ clocks agree');
    expect(output).toContain('✘ https is used');
    expect(output).toMatch(/6 passed, 0 warnings, 1 failed/);
    expect(code).toBe(1);
  });

  describe('nginx with the operator guide locations', () => {
    let nginx: ChildProcess | undefined;
    let broken: ChildProcess | undefined;
    let good: string;
    let bad: string;

    /** nginx in the foreground with a configuration of the test's; `locations` inside its server. */
    async function startNginx(
      name: string,
      locations: string,
    ): Promise<{ child: ChildProcess; url: string }> {
      const port = await freePort();
      const dir = join(work, name);
      const conf = join(work, `${name}.conf`);
      spawnSync('mkdir', ['-p', dir]);
      writeFileSync(
        conf,
        `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream herald_gateways { server ${gateways[0]!.host}:${gateways[0]!.port}; server ${gateways[1]!.host}:${gateways[1]!.port}; }
  server {
    listen 127.0.0.1:${port};
    ${locations}
  }
}
`,
      );
      const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      const url = `http://127.0.0.1:${port}`;
      await listening(`${url}/notifications/alive`);
      return { child, url };
    }

    beforeAll(async () => {
      ({ child: nginx, url: good } = await startNginx('nginx-good', `include ${NGINX_LOCATIONS};`));
      // The most common mistake: proxying the hub without the upgrade headers.
      ({ child: broken, url: bad } = await startNginx(
        'nginx-broken',
        'location /notifications/ { proxy_pass http://herald_gateways; }',
      ));
    });

    afterAll(async () => {
      await Promise.all([stopProcess(nginx), stopProcess(broken)]);
    });

    it('carries both hubs with the guide locations, and doctor agrees', async () => {
      const userId = randomUUID();
      const client = await HubClient.connect(`${good}/notifications/hub`, {
        token: await issuer.userToken(userId),
      });
      clients.push(client);
      const marker = randomUUID();
      await send(userId, marker);
      await client.next((message) => JSON.stringify(message.args).includes(marker));

      const { output } = await runDoctor(good);
      expect(output).toMatch(/6 passed, 0 warnings, 1 failed/);
      expect(output).toContain('✘ https is used');
    });

    it('lets doctor name the missing upgrade headers', async () => {
      const { code, output } = await runDoctor(bad);

      expect(output).toContain(
        '✘ /notifications/hub upgrades to WebSocket: Herald got the request without its Upgrade header',
      );
      expect(output).toContain(
        '✘ /notifications/anonymous-hub upgrades to WebSocket: Herald got the request without its Upgrade header',
      );
      expect(output).toContain('proxy_set_header Upgrade $http_upgrade');
      // The broken configuration also publishes /send: doctor says so.
      expect(output).toContain('✘ /notifications/send is not reachable from outside');
      expect(code).toBe(1);
    });
  });
});
