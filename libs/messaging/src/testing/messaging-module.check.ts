import { expect } from '@jest/globals';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import { HealthService, PlatformModule } from '@herald/platform';

import { BROKER, BROKER_PORT_TOKENS, MessagingModule, type MessagingOptions } from '../messaging.module';
import { type Broker, EVENT_CONSUMER, EVENT_LOG, type EventConsumer, type EventLog } from '../ports';
import { sampleEvent, silentLogger } from './nats.fixture';

/**
 * Boots `MessagingModule.forRoot(options)` in a bare application context, checks that every port
 * token resolves to the engine's own object and works end to end (append, consume), then closes.
 */
export async function checkMessagingModule(
  options: MessagingOptions,
  eventually: <T>(assertion: () => T | Promise<T>) => Promise<T>,
): Promise<void> {
  @Module({
    imports: [
      PlatformModule.forRoot({ service: 'messaging-test', logger: silentLogger }),
      MessagingModule.forRoot(options),
    ],
  })
  class Root {}

  const app: INestApplicationContext = await NestFactory.createApplicationContext(Root, { logger: false });
  try {
    const broker = app.get<Broker>(BROKER);
    expect(broker.engine).toBe(options.engine);
    for (const token of BROKER_PORT_TOKENS) expect(app.get(token)).toBeDefined();
    expect(app.get<EventLog>(EVENT_LOG)).toBe(broker.eventLog);
    const check = options.engine === 'nats' ? 'nats' : 'broker';
    expect(await app.get(HealthService).readiness()).toEqual({
      ready: true,
      checks: { accepting: true, [check]: true },
    });

    const seen: string[] = [];
    const subscription = await app
      .get<EventConsumer>(EVENT_CONSUMER)
      .start({ maxDeliver: 3, ackWaitMs: 5000, batch: 8 }, (event) => {
        seen.push(String(event.sequence));
        return Promise.resolve({ kind: 'ack' });
      });
    await app.get<EventLog>(EVENT_LOG).append(sampleEvent());
    await eventually(() => expect(seen).toEqual(['1']));
    await subscription.stop();
  } finally {
    await app.close();
  }
}
