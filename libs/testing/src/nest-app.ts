import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

import {
  type DynamicModule,
  type INestApplication,
  type InjectionToken,
  type WebSocketAdapter,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type CustomTransportStrategy } from '@nestjs/microservices';

/** A service module listening on a free loopback port, as `bootService` would serve it. */
export interface TestApp {
  app: INestApplication;
  /** `http://127.0.0.1:<port>` */
  url: string;
  close(): Promise<void>;
}

/**
 * Boots a service's root module on port 0 (no signal handlers, no Nest logs), then runs
 * `afterListen` and, for a hybrid application, starts
 * the module's transport strategy (`transport`, its provider token) as `bootService` does; a
 * `webSocketAdapter` for the module's gateways is installed before the application starts.
 */
export async function listenOnLoopback(
  module: DynamicModule,
  afterListen?: (app: INestApplication) => Promise<void> | void,
  transport?: InjectionToken,
  webSocketAdapter?: (app: INestApplication) => WebSocketAdapter,
): Promise<TestApp> {
  const app = await NestFactory.create(module, { logger: false });
  if (webSocketAdapter) app.useWebSocketAdapter(webSocketAdapter(app));
  if (transport) app.connectMicroservice({ strategy: app.get<CustomTransportStrategy>(transport) });
  await app.listen(0, '127.0.0.1');
  await afterListen?.(app);
  if (transport) await app.startAllMicroservices();
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
