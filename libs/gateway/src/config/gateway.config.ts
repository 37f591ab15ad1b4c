import { z } from 'zod';

import { env, processInstanceId } from '@herald/platform';

export const gatewayConfigSchema = z
  .object({
    HERALD_NATS_URL: env.natsUrl(),
    HERALD_NAMESPACE: env.namespace(),
    HERALD_STREAM_REPLICAS: env.streamReplicas(),
    HERALD_LOG_LEVEL: env.logLevel(),
    HERALD_LOG_FORMAT: env.logFormat(),
    HERALD_HOST: env.host(),
    HERALD_GATEWAY_PORT: env.port(8080),
    HERALD_GATEWAY_ID: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 letters, digits, "_" or "-"')
      .default(processInstanceId(false)),
    HERALD_JWT_PUBLIC_KEY: env.optionalString(),
    HERALD_JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    HERALD_JWT_AUTHORITY: z.url({ protocol: /^https?$/ }).optional(),
    HERALD_JWT_ISSUER: env.optionalString(),
    HERALD_INSTALLATION_ID: env.guid().optional(),
    HERALD_TLS_CERT: env.pem().optional(),
    HERALD_TLS_KEY: env.pem().optional(),
    HERALD_CORS_ORIGINS: env.list(),
    HERALD_TRUSTED_PROXIES: env.list(),
    HERALD_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).max(100_000).default(100),
    HERALD_CONNECTIONS_PER_IP: z.coerce.number().int().min(1).max(1_000_000).default(1000),
    HERALD_ANONYMOUS_CONNECTIONS_PER_IP: z.coerce.number().int().min(1).max(100_000).default(25),
    HERALD_REPLAY_WINDOW: env.duration('15m'),
    HERALD_REPLAY_MAX_MESSAGES: z.coerce.number().int().min(0).max(100_000).default(100),
    // Live deliveries held for one connection while its replay is read; past this it gets a SyncVault.
    HERALD_REPLAY_MAX_HELD: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
    HERALD_EVENTS_MAX_AGE: env.duration('24h'),
  })
  .superRefine((config, context) => {
    if (Boolean(config.HERALD_TLS_CERT) !== Boolean(config.HERALD_TLS_KEY)) {
      context.addIssue({
        code: 'custom',
        path: [config.HERALD_TLS_CERT ? 'HERALD_TLS_KEY' : 'HERALD_TLS_CERT'],
        message: 'HERALD_TLS_CERT and HERALD_TLS_KEY go together',
      });
    }
    for (const origin of config.HERALD_CORS_ORIGINS) {
      if (!/^https?:\/\/[^/\s]+$|^[a-z-]+:\/\/[^/\s]+$/.test(origin)) {
        context.addIssue({
          code: 'custom',
          path: ['HERALD_CORS_ORIGINS'],
          message: `not an origin: ${origin}`,
        });
      }
    }
    const sources = [
      config.HERALD_JWT_PUBLIC_KEY,
      config.HERALD_JWT_JWKS_URL,
      config.HERALD_JWT_AUTHORITY,
    ].filter(Boolean);
    if (sources.length !== 1) {
      context.addIssue({
        code: 'custom',
        path: ['HERALD_JWT_PUBLIC_KEY'],
        message: 'set exactly one of HERALD_JWT_PUBLIC_KEY, HERALD_JWT_JWKS_URL or HERALD_JWT_AUTHORITY',
      });
    }
  });

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
