import 'reflect-metadata';

import { HeartbeatModule, heartbeatConfigSchema } from '@herald/heartbeat';
import { bootService, createLogger, loadConfig, requireNatsUrl, runMain } from '@herald/platform';

const bootLogger = createLogger('heartbeat', 'info');

runMain(bootLogger, async () => {
  const config = loadConfig(heartbeatConfigSchema);
  requireNatsUrl('heartbeat', config.HERALD_NATS_URL);
  const logger = createLogger('heartbeat', config.HERALD_LOG_LEVEL, config.HERALD_LOG_FORMAT);
  await bootService({
    module: HeartbeatModule.forRoot({ config, logger }),
    host: config.HERALD_HOST,
    port: config.HERALD_HEARTBEAT_PORT,
    logger,
  });
});
