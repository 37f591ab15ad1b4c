import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { loadConfig } from '@herald/platform';
import { listenOnLoopback, type TestApp } from '@herald/testing';

import { heartbeatConfigSchema } from './config/heartbeat.config';
import { HeartbeatModule } from './heartbeat.module';

describe('HeartbeatModule on the memory engine', () => {
  let service: TestApp;

  beforeAll(async () => {
    const config = loadConfig(heartbeatConfigSchema, {});
    service = await listenOnLoopback(
      HeartbeatModule.forRoot({ config, logger: pino({ level: 'silent' }), messaging: { engine: 'memory' } }),
    );
  });

  afterAll(async () => {
    await service.close();
  });

  it('boots without NATS and reports ready', async () => {
    const response = await fetch(`${service.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', checks: { accepting: true, broker: true } });
  });

  it('answers /info from the memory engine (no gateway yet)', async () => {
    const response = await fetch(`${service.url}/info`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ gateways: [], totals: { gateways: 0 } });
  });
});
