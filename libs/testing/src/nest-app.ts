import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

import { type DynamicModule, type INestApplication, type InjectionToken } from '@nestjs/common';
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
 * `afterListen` (e.g. attaching a hub to the HTTP server) and, for a hybrid application, starts
 * the module's transport strategy (`transport`, its provider token) as `bootService` does.
 */
export async function listenOnLoopback(
  module: DynamicModule,
  afterListen?: (app: INestApplication) => Promise<void> | void,
  transport?: InjectionToken,
): Promise<TestApp> {
  const app = await NestFactory.create(module, { logger: false });
  if (transport) app.connectMicroservice({ strategy: app.get<CustomTransportStrategy>(transport) });
  await app.listen(0, '127.0.0.1');
  await afterListen?.(app);
  if (transport) await app.startAllMicroservices();
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
