import 'reflect-metadata';

import { DispatcherModule, dispatcherConfigSchema } from '@herald/dispatcher';
import { BROKER_TRANSPORT, connectWithStreams } from '@herald/messaging';
import { bootService, createLogger, loadConfig, runMain } from '@herald/platform';

const bootLogger = createLogger('dispatcher', 'info');

runMain(bootLogger, async () => {
  const config = loadConfig(dispatcherConfigSchema);
  const logger = createLogger('dispatcher', config.HERALD_LOG_LEVEL);
  const nats = await connectWithStreams(
    {
      servers: config.HERALD_NATS_URL,
      namespace: config.HERALD_NAMESPACE,
      name: `herald-dispatcher-${process.pid}`,
      logger,
    },
    { eventsMaxAgeMs: config.HERALD_EVENTS_MAX_AGE, replayWindowMs: config.HERALD_REPLAY_WINDOW },
  );
  await bootService({
    module: DispatcherModule.forRoot({ config, logger, nats }),
    host: config.HERALD_HOST,
    port: config.HERALD_DISPATCHER_PORT,
    logger,
    transport: BROKER_TRANSPORT,
  });
});
