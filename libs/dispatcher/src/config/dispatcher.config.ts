import { z } from 'zod';

import { env } from '@herald/platform';

export const dispatcherConfigSchema = z.object({
  HERALD_NATS_URL: env.natsUrl(),
  HERALD_NAMESPACE: env.namespace(),
  HERALD_STREAM_REPLICAS: env.streamReplicas(),
  HERALD_LOG_LEVEL: env.logLevel(),
  HERALD_LOG_FORMAT: env.logFormat(),
  HERALD_HOST: env.host(),
  HERALD_DISPATCHER_PORT: env.port(8081),
  HERALD_REPLAY_WINDOW: env.duration('15m'),
  HERALD_EVENTS_MAX_AGE: env.duration('24h'),
  HERALD_DISPATCHER_ACK_WAIT: env.duration('30s'),
  HERALD_DISPATCHER_MAX_DELIVER: z.coerce.number().int().min(1).max(1000).default(10),
  HERALD_DISPATCHER_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(64),
});

export type DispatcherConfig = z.infer<typeof dispatcherConfigSchema>;
