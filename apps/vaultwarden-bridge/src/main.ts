import 'reflect-metadata';

import { bootService, createLogger, loadConfig, requireNatsUrl, runMain } from '@herald/platform';
import {
  vaultwardenBridgeConfigSchema,
  vaultwardenBridgeMessaging,
  VaultwardenBridgeModule,
} from '@herald/vaultwarden';

const bootLogger = createLogger('vaultwarden-bridge', 'info');

runMain(bootLogger, async () => {
  const config = loadConfig(vaultwardenBridgeConfigSchema);
  requireNatsUrl('vaultwarden bridge', config.HERALD_NATS_URL);
  const logger = createLogger('vaultwarden-bridge', config.HERALD_LOG_LEVEL, config.HERALD_LOG_FORMAT);
  await bootService({
    module: VaultwardenBridgeModule.forRoot({
      databaseUrl: config.HERALD_VAULTWARDEN_DATABASE_URL,
      logger,
      messaging: vaultwardenBridgeMessaging(config),
    }),
    host: config.HERALD_HOST,
    port: config.HERALD_VAULTWARDEN_BRIDGE_PORT,
    logger,
  });
});
