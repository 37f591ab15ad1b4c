import 'reflect-metadata';

import { type Server } from 'node:http';

import { TokenVerifier } from '@herald/auth';
import { GatewayModule, gatewayConfigSchema, NotificationsHub } from '@herald/gateway';
import { connectWithStreams } from '@herald/messaging';
import { bootService, createLogger, loadConfig, runMain } from '@herald/platform';

const bootLogger = createLogger('gateway', 'info');

runMain(bootLogger, async () => {
  const config = loadConfig(gatewayConfigSchema);
  const logger = createLogger('gateway', config.HERALD_LOG_LEVEL).child({
    gatewayId: config.HERALD_GATEWAY_ID,
  });
  const verifier = await TokenVerifier.create({
    publicKey: config.HERALD_JWT_PUBLIC_KEY,
    jwksUrl: config.HERALD_JWT_JWKS_URL,
    authority: config.HERALD_JWT_AUTHORITY,
    issuer: config.HERALD_JWT_ISSUER,
  });
  const nats = await connectWithStreams(
    {
      servers: config.HERALD_NATS_URL,
      namespace: config.HERALD_NAMESPACE,
      name: `herald-gateway-${config.HERALD_GATEWAY_ID}`,
      logger,
    },
    { eventsMaxAgeMs: config.HERALD_EVENTS_MAX_AGE, replayWindowMs: config.HERALD_REPLAY_WINDOW },
  );
  await bootService({
    module: GatewayModule.forRoot({ config, logger, nats, verifier }),
    host: config.HERALD_HOST,
    port: config.HERALD_GATEWAY_PORT,
    logger,
    tls:
      config.HERALD_TLS_CERT && config.HERALD_TLS_KEY
        ? { cert: config.HERALD_TLS_CERT, key: config.HERALD_TLS_KEY }
        : undefined,
    corsOrigins: config.HERALD_CORS_ORIGINS,
    afterListen: (app) => app.get(NotificationsHub).attach(app.getHttpServer() as Server),
  });
});
