import { z } from 'zod';

import { env } from '@herald/platform';

export const heartbeatConfigSchema = z.object({
  HERALD_NATS_URL: env.natsUrl(),
  HERALD_NAMESPACE: env.namespace(),
  HERALD_STREAM_REPLICAS: env.streamReplicas(),
  HERALD_LOG_LEVEL: env.logLevel(),
  HERALD_LOG_FORMAT: env.logFormat(),
  HERALD_HOST: env.host(),
  HERALD_HEARTBEAT_PORT: env.port(8083),
});

export type HeartbeatConfig = z.infer<typeof heartbeatConfigSchema>;
