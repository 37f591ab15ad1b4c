import 'reflect-metadata';

import { BROKER_TRANSPORT } from '@herald/messaging';
import { bootService, createLogger, loadConfig, requireNatsUrl, runMain } from '@herald/platform';
import { pushConfigSchema, PushModule } from '@herald/push';

const bootLogger = createLogger('push-worker', 'info');

runMain(bootLogger, async () => {
  const config = loadConfig(pushConfigSchema);
  requireNatsUrl('push worker', config.HERALD_NATS_URL);
  const logger = createLogger('push-worker', config.HERALD_LOG_LEVEL, config.HERALD_LOG_FORMAT);
  await bootService({
    module: PushModule.forRoot({ config, logger }),
    host: config.HERALD_HOST,
    port: config.HERALD_PUSH_PORT,
    logger,
    transport: BROKER_TRANSPORT,
  });
});
