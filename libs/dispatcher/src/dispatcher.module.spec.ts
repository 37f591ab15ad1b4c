import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { type AnyHeraldEvent, parseSendRequest, PushType } from '@herald/contracts';
import {
  BROKER_TRANSPORT,
  DELIVERY_LOG,
  type DeliveryLog,
  EVENT_LOG,
  type EventLog,
} from '@herald/messaging';
import { loadConfig } from '@herald/platform';
import { eventually, listenOnLoopback, type TestApp } from '@herald/testing';

import { dispatcherConfigSchema } from './config/dispatcher.config';
import { DispatcherModule } from './dispatcher.module';

describe('DispatcherModule on the memory engine', () => {
  let service: TestApp;

  beforeAll(async () => {
    const config = loadConfig(dispatcherConfigSchema, {});
    service = await listenOnLoopback(
      DispatcherModule.forRoot({
        config,
        logger: pino({ level: 'silent' }),
        messaging: { engine: 'memory' },
      }),
      undefined,
      BROKER_TRANSPORT,
    );
  });

  afterAll(async () => {
    await service.close();
  });

  it('boots without NATS, consuming, and reports ready', async () => {
    const response = await fetch(`${service.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', checks: { accepting: true, broker: true } });
  });

  it('consumes an appended event and publishes its delivery, all in memory', async () => {
    const request = parseSendRequest({
      type: PushType.SyncCiphers,
      payload: { UserId: randomUUID(), Date: new Date().toISOString() },
      contextId: null,
    });
    const event = { id: randomUUID(), ...request, acceptedAt: new Date() } as unknown as AnyHeraldEvent;
    await service.app.get<EventLog>(EVENT_LOG).append(event);
    const deliveries = service.app.get<DeliveryLog>(DELIVERY_LOG);
    await eventually(async () => expect((await deliveries.bounds()).last).toBeGreaterThanOrEqual(1));
  });
});
