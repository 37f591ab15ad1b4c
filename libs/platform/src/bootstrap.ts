import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

import {
  type DynamicModule,
  type INestApplication,
  type InjectionToken,
  type LoggerService,
  type Type,
  type WebSocketAdapter,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type CustomTransportStrategy } from '@nestjs/microservices';
import { type NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import { type Logger } from 'pino';

import { ConfigError } from './config/environment';
import { HealthService } from './health/health.service';

export interface ServiceBootOptions {
  module: Type<unknown> | DynamicModule;
  host: string;
  port: number;
  logger: Logger;
  /** Serve HTTPS (and WSS) with this PEM key and certificate chain. */
  tls?: { key: string; cert: string };
  /** Origins allowed to call the HTTP API from a browser (with credentials); none when empty. */
  corsOrigins?: string[];
  /** Largest JSON request body (`'512kb'`); Nest's default (100 kB) when not set. Larger: `413`. */
  jsonBodyLimit?: string;
  /** Called after the HTTP server listens. */
  afterListen?: (app: INestApplication) => Promise<void> | void;
  /** The adapter that serves the module's `@WebSocketGateway`s, installed before the application starts. */
  webSocketAdapter?: (app: INestApplication) => WebSocketAdapter;
  /**
   * The module's provider of a Nest transport strategy (a hybrid application): its
   * `@EventPattern` handlers start consuming once the HTTP server listens; on SIGTERM the strategy
   * closes with the application, before the broker drains.
   */
  transport?: InjectionToken;
}

/** Connections the kernel may queue before the process accepts them. */
const LISTEN_BACKLOG = 8192;

/** Time allowed for a request's headers, and for the whole request (see bootService). */
export const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 25_000;

/**
 * Boots one service: Nest with the pino logger, and the module's transport strategy if it has one;
 * SIGTERM and SIGINT run every module's shutdown
 * hooks (close sockets, stop consumers, drain NATS) and then exit 0, or 1 past the deadline.
 */
export async function bootService(options: ServiceBootOptions): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(options.module, {
    bufferLogs: true,
    ...(options.tls ? { httpsOptions: { key: options.tls.key, cert: options.tls.cert } } : {}),
  });
  app.useLogger(new RoutineAtDebug(app.get(NestPinoLogger)));
  app.disable('x-powered-by');
  // Registered before Nest's own JSON parser would be, which then stands aside.
  if (options.jsonBodyLimit) app.useBodyParser('json', { limit: options.jsonBodyLimit });
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'"] },
      },
    }),
  );
  if (options.corsOrigins && options.corsOrigins.length > 0) {
    app.enableCors({ origin: options.corsOrigins, credentials: true, maxAge: 600 });
  }
  if (options.webSocketAdapter) {
    app.useWebSocketAdapter(options.webSocketAdapter(app));
  }
  if (options.transport) {
    app.connectMicroservice({ strategy: app.get<CustomTransportStrategy>(options.transport) });
  }
  // Node's default backlog (511) overflows when thousands of clients reconnect at once; the
  // kernel caps it at net.core.somaxconn.
  // Nest passes extra arguments on to `server.listen(port, host, backlog, callback)`.
  const listen = app.listen.bind(app) as unknown as (
    port: number,
    host: string,
    backlog: number,
  ) => Promise<unknown>;
  await listen(options.port, options.host, LISTEN_BACKLOG);
  // A connection that never completes its request headers (silent, or a slow trickle) is closed
  // within HEADERS_TIMEOUT_MS plus Node's 30 s check interval, instead of 60 to 90 s; a request
  // whose body does not arrive within REQUEST_TIMEOUT_MS is answered 408.
  const server: Server = app.getHttpServer();
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await options.afterListen?.(app);
  // Consumers start last, once everything they hand work to is up.
  if (options.transport) await app.startAllMicroservices();
  // With port 0 the system picks one; log the real one (tests and operators read it from here).
  const address = app.getHttpServer().address() as AddressInfo;
  options.logger.info({ host: options.host, port: address.port, tls: Boolean(options.tls) }, 'listening');
  exitOnSignal(app, options.logger);
  return app;
}

/** Nest's contexts whose `log` lines only repeat how the application is wired (one per route). */
const ROUTINE_CONTEXTS = new Set([
  'InstanceLoader',
  'NestApplication',
  'NestFactory',
  'NestMicroservice',
  'RouterExplorer',
  'RoutesResolver',
  'WebSocketsController',
]);

/** Nest's logger, with the routine boot lines (route mappings, modules loaded) at debug. */
class RoutineAtDebug implements LoggerService {
  constructor(private readonly inner: NestPinoLogger) {}

  log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    if (typeof context === 'string' && ROUTINE_CONTEXTS.has(context)) this.inner.debug(message, ...rest);
    else this.inner.log(message, ...rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.inner.error(message, ...rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.inner.warn(message, ...rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.inner.debug(message, ...rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.inner.verbose(message, ...rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.inner.fatal(message, ...rest);
  }
}

/** Runs `main`, and on a boot failure logs why and exits non-zero (a ConfigError names the variable). */
export function runMain(logger: Logger, main: () => Promise<unknown>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      logger.fatal({ problems: error.problems }, error.message);
    } else {
      logger.fatal({ err: error }, error instanceof Error ? error.message : 'boot failed');
    }
    process.exitCode = 1;
    setImmediate(() => process.exit(1));
  });
}

function exitOnSignal(app: INestApplication, logger: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.get(HealthService).markDraining();
    setTimeout(() => {
      logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    app.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
