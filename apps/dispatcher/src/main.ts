import 'reflect-metadata';

import { DispatcherModule, dispatcherConfigSchema } from '@herald/dispatcher';
import { BROKER_TRANSPORT } from '@herald/messaging';
import { bootService, createLogger, loadConfig, requireNatsUrl, runMain } from '@herald/platform';

const bootLogger = createLogger('dispatcher', 'info');

runMain(bootLogger, async () => {
  const config = loadConfig(dispatcherConfigSchema);
  requireNatsUrl('dispatcher', config.HERALD_NATS_URL);
  const logger = createLogger('dispatcher', config.HERALD_LOG_LEVEL, config.HERALD_LOG_FORMAT);
  await bootService({
    module: DispatcherModule.forRoot({ config, logger }),
    host: config.HERALD_HOST,
    port: config.HERALD_DISPATCHER_PORT,
    logger,
    transport: BROKER_TRANSPORT,
  });
});
