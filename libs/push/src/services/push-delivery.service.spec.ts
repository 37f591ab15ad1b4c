import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';

import { ClientType, devicePushJobCodec, PushType, pushJobCodec } from '@herald/contracts';
import { type ConsumedEvent, type PushQueue } from '@herald/messaging';
import { type Database } from '@herald/persistence';
import { loadConfig } from '@herald/platform';

import { pushConfigSchema } from '../config/push.config';
import { PushDeliveryService } from './push-delivery.service';

/** A registry whose server went away: every query fails as node-postgres reports it. */
const unreachable = {
  kind: 'postgres',
  devices: {
    findTargets: () => Promise.reject(new Error('Connection terminated unexpectedly')),
    find: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
  },
} as unknown as Database;

const job = pushJobCodec.encode({
  jobId: 'e-1:push:user:u-1:0',
  eventId: 'e-1',
  type: PushType.SyncCipherUpdate,
  payload: { Id: 'c-1' },
  contextId: null,
  target: { kind: 'user', id: 'u-1' },
  excludeIdentifier: null,
  clientType: ClientType.All,
  acceptedAt: 1,
});
const devicePush = devicePushJobCodec.encode({
  jobId: 'e-1:push:user:u-1:0:d-1',
  parentJobId: 'e-1:push:user:u-1:0',
  deviceId: 'd-1',
  type: PushType.SyncCipherUpdate,
  payload: { Id: 'c-1' },
  contextId: null,
  acceptedAt: 1,
});
const consumed = (data: Uint8Array, attempt: number): ConsumedEvent => ({
  data,
  attempt,
  sequence: attempt,
  subject: 'herald.push.job',
});

describe('PushDeliveryService when the registry is unreachable', () => {
  const metrics = new Registry();
  const service = new PushDeliveryService(
    unreachable,
    {} as PushQueue,
    {},
    loadConfig(pushConfigSchema, {}),
    pino({ level: 'silent' }),
    metrics,
  );

  // The push backoff: from 1 s doubling, half to all of the ceiling, capped at 5 min. A handler
  // that threw would be retried after a flat second, whatever the attempt.
  it.each([1, 4, 9, 12])(
    'retries attempt %i of a job or a device push with the push backoff',
    async (attempt) => {
      const ceiling = Math.min(300_000, 1000 * 2 ** (attempt - 1));
      for (const [outcome, reason] of [
        [await service.resolve(consumed(job, attempt)), /^resolve failed: Connection terminated/],
        [await service.send(consumed(devicePush, attempt)), /^send failed: connect ECONNREFUSED/],
      ] as const) {
        expect(outcome).toMatchObject({ kind: 'retry', reason: expect.stringMatching(reason) });
        const { delayMs } = outcome as { delayMs: number };
        expect(delayMs).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delayMs).toBeLessThanOrEqual(ceiling);
      }
    },
  );

  it('counts those retries by stage', async () => {
    const text = await metrics.metrics();
    expect(text).toContain('herald_push_jobs_total{stage="resolve",outcome="retry"} 4');
    expect(text).toContain('herald_push_jobs_total{stage="send",outcome="retry"} 4');
  });
});
