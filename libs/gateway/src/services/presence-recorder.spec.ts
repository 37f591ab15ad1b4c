import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { Registry } from 'prom-client';

import { type PresenceStore } from '@herald/messaging';

import { gatewayConfigSchema } from '../config/gateway.config';
import { loadConfig } from '@herald/platform';
import { type DeviceConnection } from './gateway-connection';
import { PresenceRecorder } from './presence-recorder';
import { type ReplayState } from './replay-state';
import { type WatermarkService } from './watermark.service';

describe('PresenceRecorder', () => {
  it('counts presence writes while the broker has not answered them, failed ones too', async () => {
    const answers: { resolve: () => void; reject: (error: Error) => void }[] = [];
    const pending = () =>
      new Promise<void>((resolve, reject) => {
        answers.push({ resolve, reject });
      });
    const presence: PresenceStore = {
      get: () => Promise.resolve(undefined),
      markConnected: pending,
      markDisconnected: pending,
    };
    const metrics = new Registry();
    const recorder = new PresenceRecorder(
      {} as ReplayState,
      {} as WatermarkService,
      presence,
      loadConfig(gatewayConfigSchema, { HERALD_JWT_PUBLIC_KEY: 'unused' }),
      pino({ level: 'silent' }),
      metrics,
    );
    const gauge = async () =>
      (await metrics.getSingleMetric('herald_gateway_presence_writes_pending')!.get()).values[0]!.value;
    const device = {
      id: 'c1',
      identity: { userId: 'u1', deviceIdentifier: 'd1' },
    } as unknown as DeviceConnection;

    const connected = recorder.connected(device, 0);
    recorder.closed(device, 3);
    expect(await gauge()).toBe(2);
    answers[0]!.resolve();
    await connected;
    expect(await gauge()).toBe(1);
    answers[1]!.reject(new Error('broker away'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await gauge()).toBe(0);
  });
});
