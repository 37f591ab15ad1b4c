import 'reflect-metadata';

import { HeartbeatModule, heartbeatConfigSchema } from '@herald/heartbeat';
import { connectWithStreams, DEFAULT_TOPOLOGY } from '@herald/messaging';
import { bootService, createLogger, loadConfig, runMain } from '@herald/platform';

const bootLogger = createLogger('heartbeat', 'info');

runMain(bootLogger, async () => {
  const config = loadConfig(heartbeatConfigSchema);
  const logger = createLogger('heartbeat', config.HERALD_LOG_LEVEL);
  // Only the streams this service reads; the others are configured by the services that own them.
  const nats = await connectWithStreams(
    {
      servers: config.HERALD_NATS_URL,
      namespace: config.HERALD_NAMESPACE,
      name: `herald-heartbeat-${process.pid}`,
      logger,
    },
    DEFAULT_TOPOLOGY,
    (names) => [names.streams.heartbeats, names.streams.dead],
  );
  await bootService({
    module: HeartbeatModule.forRoot({ logger, nats }),
    host: config.HERALD_HOST,
    port: config.HERALD_HEARTBEAT_PORT,
    logger,
  });
});
