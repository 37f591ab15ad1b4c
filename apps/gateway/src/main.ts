import 'reflect-metadata';

import { GatewayModule, gatewayConfigSchema, SEND_BODY_LIMIT } from '@herald/gateway';
import { bootService, createLogger, loadConfig, requireNatsUrl, runMain } from '@herald/platform';
import { SignalRAdapter } from '@herald/signalr';

const bootLogger = createLogger('gateway', 'info');

runMain(bootLogger, async () => {
  const config = loadConfig(gatewayConfigSchema);
  requireNatsUrl('gateway', config.HERALD_NATS_URL);
  const logger = createLogger('gateway', config.HERALD_LOG_LEVEL, config.HERALD_LOG_FORMAT).child({
    gatewayId: config.HERALD_GATEWAY_ID,
  });
  await bootService({
    module: GatewayModule.forRoot({ config, logger }),
    host: config.HERALD_HOST,
    port: config.HERALD_GATEWAY_PORT,
    logger,
    jsonBodyLimit: SEND_BODY_LIMIT,
    tls:
      config.HERALD_TLS_CERT && config.HERALD_TLS_KEY
        ? { cert: config.HERALD_TLS_CERT, key: config.HERALD_TLS_KEY }
        : undefined,
    corsOrigins: config.HERALD_CORS_ORIGINS,
    webSocketAdapter: (app) => new SignalRAdapter(app),
  });
});
