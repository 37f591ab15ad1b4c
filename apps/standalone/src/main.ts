import 'reflect-metadata';

import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { resolve } from 'node:path';

import { DEV_TOKEN_ISSUER, ensureDevKeys } from '@herald/auth';
import { BROKER_TRANSPORT } from '@herald/messaging';
import { SEND_BODY_LIMIT } from '@herald/gateway';
import { bootService, createLogger, resolveLogFormat, runMain } from '@herald/platform';
import { SignalRAdapter } from '@herald/signalr';

import { bannerLines, renderBanner } from './banner';
import { loadStandaloneConfig } from './standalone.config';
import { StandaloneModule } from './standalone.module';

// `npm start`: all of Herald in one process. Without HERALD_NATS_URL the broker is in memory;
// without HERALD_DATABASE_URL the device registry is SQLite in HERALD_DATA_DIR; without a token
// source it trusts a development key pair made in HERALD_DATA_DIR.
const bootLogger = createLogger('herald', 'info');

runMain(bootLogger, async () => {
  const dataDir = resolve(process.env['HERALD_DATA_DIR'] || '.herald-data');
  let devKeyPath: string | undefined;
  if (
    !process.env['HERALD_JWT_PUBLIC_KEY'] &&
    !process.env['HERALD_JWT_JWKS_URL'] &&
    !process.env['HERALD_JWT_AUTHORITY']
  ) {
    const keys = await ensureDevKeys(dataDir);
    devKeyPath = keys.publicKeyPath;
    process.env['HERALD_JWT_PUBLIC_KEY'] = keys.publicKeyPath;
    process.env['HERALD_JWT_ISSUER'] ||= DEV_TOKEN_ISSUER;
    bootLogger.debug(
      { publicKey: keys.publicKeyPath, created: keys.created },
      'trusting the development key pair',
    );
  }
  process.env['HERALD_DATA_DIR'] = dataDir;
  const config = loadStandaloneConfig();
  const { gateway } = config;
  const format = gateway.HERALD_LOG_FORMAT ?? resolveLogFormat();
  const logger = createLogger('herald', gateway.HERALD_LOG_LEVEL, format).child({
    gatewayId: gateway.HERALD_GATEWAY_ID,
  });
  const tls =
    gateway.HERALD_TLS_CERT && gateway.HERALD_TLS_KEY
      ? { cert: gateway.HERALD_TLS_CERT, key: gateway.HERALD_TLS_KEY }
      : undefined;
  const app = await bootService({
    module: StandaloneModule.forRoot({ config, logger }),
    host: gateway.HERALD_HOST,
    port: gateway.HERALD_GATEWAY_PORT,
    logger,
    tls,
    jsonBodyLimit: SEND_BODY_LIMIT,
    corsOrigins: gateway.HERALD_CORS_ORIGINS,
    webSocketAdapter: (nest) => new SignalRAdapter(nest),
    transport: BROKER_TRANSPORT,
  });
  const address = (app.getHttpServer() as Server).address() as AddressInfo;
  const host = ['0.0.0.0', '::', '127.0.0.1', '::1'].includes(gateway.HERALD_HOST)
    ? 'localhost'
    : gateway.HERALD_HOST;
  const lines = bannerLines({
    baseUrl: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    dataDir,
    natsUrl: gateway.HERALD_NATS_URL,
    databaseUrl: config.push.HERALD_DATABASE_URL,
    devKeyPath,
  });
  if (format === 'pretty') process.stdout.write(`${renderBanner(lines, Boolean(devKeyPath))}\n`);
  else logger.info({ ...lines, devKeys: Boolean(devKeyPath) }, 'herald is ready');
});
