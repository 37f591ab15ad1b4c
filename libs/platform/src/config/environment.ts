import { readFileSync } from 'node:fs';

import { z } from 'zod';

/**
 * Every environment variable any Herald service reads. A `HERALD_*` variable that is not listed
 * here stops the boot: a typo must never silently fall back to a default. Keep the README's
 * configuration table in step with this list.
 */
export const HERALD_VARIABLES = [
  'HERALD_NATS_URL',
  'HERALD_NAMESPACE',
  'HERALD_STREAM_REPLICAS',
  'HERALD_LOG_LEVEL',
  'HERALD_LOG_FORMAT',
  'HERALD_HOST',
  'HERALD_GATEWAY_PORT',
  'HERALD_DISPATCHER_PORT',
  'HERALD_PUSH_PORT',
  'HERALD_HEARTBEAT_PORT',
  'HERALD_VAULTWARDEN_BRIDGE_PORT',
  'HERALD_VAULTWARDEN_DATABASE_URL',
  'HERALD_GATEWAY_ID',
  'HERALD_JWT_PUBLIC_KEY',
  'HERALD_JWT_JWKS_URL',
  'HERALD_JWT_AUTHORITY',
  'HERALD_JWT_ISSUER',
  'HERALD_INSTALLATION_ID',
  'HERALD_DATABASE_URL',
  'HERALD_DATA_DIR',
  'HERALD_TLS_CERT',
  'HERALD_TLS_KEY',
  'HERALD_CORS_ORIGINS',
  'HERALD_TRUSTED_PROXIES',
  'HERALD_ANONYMOUS_CONNECTIONS_PER_IP',
  'HERALD_CONNECTIONS_PER_USER',
  'HERALD_CONNECTIONS_PER_IP',
  'HERALD_REPLAY_WINDOW',
  'HERALD_REPLAY_MAX_MESSAGES',
  'HERALD_REPLAY_MAX_HELD',
  'HERALD_DISPATCHER_ACK_WAIT',
  'HERALD_EVENTS_MAX_AGE',
  'HERALD_DISPATCHER_MAX_DELIVER',
  'HERALD_DISPATCHER_CONCURRENCY',
  'HERALD_PUSH_RELAY_URI',
  'HERALD_PUSH_IDENTITY_URI',
  'HERALD_PUSH_INSTALLATION_ID',
  'HERALD_PUSH_INSTALLATION_KEY',
  'HERALD_PUSH_MAX_ATTEMPTS',
  'HERALD_PUSH_CONCURRENCY',
  'HERALD_PUSH_MAX_DEVICES_PER_USER',
  'HERALD_FCM_SERVICE_ACCOUNT',
  'HERALD_FCM_API_URL',
  'HERALD_FCM_TOKEN_URL',
  'HERALD_APNS_KEY',
  'HERALD_APNS_KEY_ID',
  'HERALD_APNS_TEAM_ID',
  'HERALD_APNS_TOPIC',
  'HERALD_APNS_HOST',
  'HERALD_VAPID_PUBLIC_KEY',
  'HERALD_VAPID_PRIVATE_KEY',
  'HERALD_VAPID_SUBJECT',
  'HERALD_WEBPUSH_ALLOWED_HOSTS',
] as const;

/** The boot refuses to go on; the message names the variable at fault. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment with a zod schema whose keys are variable names. Empty strings count as
 * unset. Unknown `HERALD_*` variables are errors.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const known = new Set<string>(HERALD_VARIABLES);
  const problems: string[] = [];
  for (const name of Object.keys(env)) {
    if (name.startsWith('HERALD_') && !known.has(name)) {
      problems.push(`${name}: unknown variable (is it misspelt? see the configuration table in README.md)`);
    }
  }
  const input = Object.fromEntries(
    Object.keys(schema.shape).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.join('.');
      const value = input[name];
      const secret = /KEY|SECRET|CERT|PASSWORD|ACCOUNT/.test(name);
      // Credentials are hidden before the value is cut short, so no part of one is ever shown.
      const shown =
        value === undefined
          ? 'unset'
          : secret
            ? 'value hidden'
            : JSON.stringify(hideCredentials(value).slice(0, 80));
      problems.push(`${name}: ${issue.message} (${shown})`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return parsed.data as z.infer<S>;
}

/** Where a URL (one of a comma-separated list) starts: its scheme. */
const SCHEME_START = /(?=[a-z][a-z0-9+.-]*:\/\/)/i;
/** A query parameter that carries a secret (`password=`, `sslpassword=`, `token=`, `secret=`, `key=`). */
const SECRET_PARAMETER = /([?&;][a-z_]*(?:pass(?:word)?|token|secret|key)=)[^&;\s]*/gi;

/**
 * A configuration value as it may be shown in a problem: the user information of every URL in
 * it (`user:password@`, a NATS token `token@`) and secret query parameters replaced by `***`. The
 * value is malformed when it is shown, so no URL parser is trusted to find the parts: everything
 * from the scheme (or the start, without one) to the last `@` before the next URL is hidden.
 */
export function hideCredentials(value: string): string {
  return value
    .split(SCHEME_START)
    .map((part) => {
      const at = part.lastIndexOf('@');
      if (at < 0) return part;
      const authority = part.indexOf('://');
      const start = authority < 0 ? 0 : authority + 3;
      return at < start ? part : `${part.slice(0, start)}***${part.slice(at)}`;
    })
    .join('')
    .replace(SECRET_PARAMETER, '$1***');
}

/** Field types shared by the services' schemas. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  /** Unset means no NATS: only the single-process mode (`npm start`) runs without one. */
  natsUrl: () =>
    z
      .string()
      .regex(
        /^(nats|tls|ws|wss):\/\/[^\s,]+(,(nats|tls|ws|wss):\/\/[^\s,]+)*$/,
        'expected nats://host:port[,nats://…]',
      )
      .optional(),
  namespace: () =>
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, 'expected 1-32 letters, digits, "_" or "-"')
      .default('herald'),
  /**
   * Copies of every stream and bucket that JetStream keeps, each on another server: 1 on a single
   * NATS server, 3 on a three-node cluster (so one node may fail), 5 at most (JetStream's limit).
   */
  streamReplicas: () => z.coerce.number().int().min(1).max(5).default(1),
  logFormat: () => z.enum(['json', 'pretty']).optional(),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  host: () => z.string().min(1).default('0.0.0.0'),
  /** A duration such as `15m`, `90s`, `24h` or a number of milliseconds; parsed to milliseconds. */
  duration: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((value, context) => {
        const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
        if (!match) {
          context.addIssue({
            code: 'custom',
            message: 'expected a duration like 500ms, 90s, 15m, 24h or 7d',
          });
          return z.NEVER;
        }
        const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms'] ?? 1;
        return Number(match[1]) * factor;
      }),
  optionalString: () => z.string().min(1).optional(),
  /** A comma-separated list; empty entries dropped. */
  list: () =>
    z
      .string()
      .optional()
      .transform((value) =>
        (value ?? '')
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean),
      ),
  /** PEM text (also with literal \n escapes, as environment variables often carry it) or a path to a PEM file. */
  pem: () =>
    z
      .string()
      .min(1)
      .transform((value, context) => {
        const text = value.includes('-----BEGIN') ? value.replace(/\\n/g, '\n') : readFileOrUndefined(value);
        if (text === undefined || !text.includes('-----BEGIN')) {
          context.addIssue({
            code: 'custom',
            message: 'expected PEM text or the path of a readable PEM file',
          });
          return z.NEVER;
        }
        return text;
      }),
  guid: () =>
    z
      .string()
      .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'expected a GUID')
      .transform((value) => value.toLowerCase()),
};

/**
 * A service that runs as a process of its own talks to the others over NATS: without
 * HERALD_NATS_URL it would have no one to talk to, so it refuses to boot and says what to do.
 */
export function requireNatsUrl(service: string, natsUrl: string | undefined): string {
  if (natsUrl) return natsUrl;
  throw new ConfigError([
    `HERALD_NATS_URL: required when the ${service} runs as a service of its own (e.g. nats://127.0.0.1:4222); ` +
      '`npm start` runs all of Herald in one process without NATS',
  ]);
}

function readFileOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
