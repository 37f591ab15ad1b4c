import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { EVENT_LOG, type EventLog } from '@herald/messaging';
import { loadConfig } from '@herald/platform';
import { SignalRAdapter } from '@herald/signalr';
import { listenOnLoopback, type TestApp, TestIssuer } from '@herald/testing';

import { gatewayConfigSchema } from './config/gateway.config';
import { GatewayModule } from './gateway.module';

describe('GatewayModule on the memory engine', () => {
  let service: TestApp;

  beforeAll(async () => {
    const issuer = await TestIssuer.create();
    const config = loadConfig(gatewayConfigSchema, { HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem });
    service = await listenOnLoopback(
      GatewayModule.forRoot({ config, logger: pino({ level: 'silent' }), messaging: { engine: 'memory' } }),
      undefined,
      undefined,
      (app) => new SignalRAdapter(app),
    );
  });

  afterAll(async () => {
    await service.close();
  });

  it('boots without NATS and reports ready, with the broker among its checks', async () => {
    const response = await fetch(`${service.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      checks: { accepting: true, broker: true },
    });
  });

  it('takes its ports from MessagingModule: the event log is the memory engine', () => {
    expect(service.app.get<EventLog>(EVENT_LOG).constructor.name).toBe('MemoryEventLog');
  });
});
