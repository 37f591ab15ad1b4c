import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { loadConfig } from '@herald/platform';
import { listenOnLoopback, type TestApp } from '@herald/testing';

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
});
