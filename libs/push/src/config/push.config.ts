import { z } from 'zod';

import { ClientAddressResolver, env } from '@herald/platform';

import { allowListProblem } from '../providers/webpush-endpoint';

export const pushConfigSchema = z
  .object({
    HERALD_NATS_URL: env.natsUrl(),
    HERALD_NAMESPACE: env.namespace(),
    HERALD_STREAM_REPLICAS: env.streamReplicas(),
    HERALD_LOG_LEVEL: env.logLevel(),
    HERALD_LOG_FORMAT: env.logFormat(),
    HERALD_HOST: env.host(),
    HERALD_PUSH_PORT: env.port(8082),
    HERALD_DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected postgres://user@host:port/database')
      .optional(),
    HERALD_DATA_DIR: z.string().min(1).default('.herald-data'),
    HERALD_EVENTS_MAX_AGE: env.duration('24h'),
    HERALD_REPLAY_WINDOW: env.duration('15m'),
    // Users' own registrations (`/devices/identifier/...`): the vault's access tokens.
    HERALD_JWT_PUBLIC_KEY: env.optionalString(),
    HERALD_JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    HERALD_JWT_AUTHORITY: z.url({ protocol: /^https?$/ }).optional(),
    HERALD_JWT_ISSUER: env.optionalString(),
    // Most registrations one user may have in the users' own namespace.
    HERALD_PUSH_MAX_DEVICES_PER_USER: z.coerce.number().int().min(1).max(100_000).default(100),
    // The vault's installation: its relay registrations are the vault's own (vault events reach them).
    HERALD_INSTALLATION_ID: env.guid().optional(),
    // `/connect/token` failures are limited per client address, read through these proxies.
    HERALD_TRUSTED_PROXIES: env.list(),
    // Forwarding through Bitwarden's relay, like a self-hosted Bitwarden server.
    HERALD_PUSH_RELAY_URI: z.url({ protocol: /^https?$/ }).optional(),
    HERALD_PUSH_IDENTITY_URI: z.url({ protocol: /^https?$/ }).optional(),
    HERALD_PUSH_INSTALLATION_ID: env.guid().optional(),
    HERALD_PUSH_INSTALLATION_KEY: env.optionalString(),
    // Direct delivery.
    HERALD_FCM_SERVICE_ACCOUNT: env.optionalString(),
    HERALD_FCM_API_URL: z.url({ protocol: /^https?$/ }).optional(),
    HERALD_FCM_TOKEN_URL: z.url({ protocol: /^https?$/ }).optional(),
    HERALD_APNS_KEY: env.optionalString(),
    HERALD_APNS_KEY_ID: env.optionalString(),
    HERALD_APNS_TEAM_ID: env.optionalString(),
    HERALD_APNS_TOPIC: env.optionalString(),
    HERALD_APNS_HOST: z.string().min(1).default('production'),
    HERALD_VAPID_PUBLIC_KEY: env.optionalString(),
    HERALD_VAPID_PRIVATE_KEY: env.optionalString(),
    HERALD_VAPID_SUBJECT: z
      .string()
      .regex(/^(mailto:|https:\/\/)/, 'expected mailto:… or https://…')
      .optional(),
    // Web Push endpoints that may be private or plain http (tests, an internal push service).
    HERALD_WEBPUSH_ALLOWED_HOSTS: env.list(),
    HERALD_PUSH_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(12),
    HERALD_PUSH_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(32),
  })
  .superRefine((config, context) => {
    const together = (names: (keyof typeof config)[], what: string) => {
      const set = names.filter((name) => config[name] !== undefined);
      if (set.length > 0 && set.length < names.length) {
        for (const name of names.filter((candidate) => config[candidate] === undefined)) {
          context.addIssue({ code: 'custom', path: [name], message: `${what} needs ${names.join(', ')}` });
        }
      }
    };
    together(
      ['HERALD_PUSH_RELAY_URI', 'HERALD_PUSH_INSTALLATION_ID', 'HERALD_PUSH_INSTALLATION_KEY'],
      'the Bitwarden relay',
    );
    together(['HERALD_APNS_KEY', 'HERALD_APNS_KEY_ID', 'HERALD_APNS_TEAM_ID', 'HERALD_APNS_TOPIC'], 'APNs');
    together(['HERALD_VAPID_PUBLIC_KEY', 'HERALD_VAPID_PRIVATE_KEY', 'HERALD_VAPID_SUBJECT'], 'Web Push');
    for (const entry of config.HERALD_WEBPUSH_ALLOWED_HOSTS) {
      const problem = allowListProblem(entry);
      if (problem !== undefined)
        context.addIssue({ code: 'custom', path: ['HERALD_WEBPUSH_ALLOWED_HOSTS'], message: problem });
    }
    for (const proxy of config.HERALD_TRUSTED_PROXIES) {
      try {
        new ClientAddressResolver([proxy]);
      } catch {
        context.addIssue({
          code: 'custom',
          path: ['HERALD_TRUSTED_PROXIES'],
          message: `not an IP address or CIDR range: ${proxy}`,
        });
      }
    }
    const sources = [
      config.HERALD_JWT_PUBLIC_KEY,
      config.HERALD_JWT_JWKS_URL,
      config.HERALD_JWT_AUTHORITY,
    ].filter(Boolean);
    if (sources.length > 1) {
      context.addIssue({
        code: 'custom',
        path: ['HERALD_JWT_PUBLIC_KEY'],
        message: 'set at most one token source',
      });
    }
  });

export type PushConfig = z.infer<typeof pushConfigSchema>;
