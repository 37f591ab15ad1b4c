import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';

import { devicePushJobCodec } from '@herald/contracts';
import { type ConsumedEvent, type PushQueue } from '@herald/messaging';
import { type Database, openDatabase } from '@herald/persistence';
import { loadConfig } from '@herald/platform';
import { eventually, type FakeSubscription, FakeWebPushEndpoint } from '@herald/testing';

import { pushConfigSchema } from '../config/push.config';
import { WebPushEndpointPolicy } from '../providers/webpush-endpoint';
import { generateVapidKeys, WebPushSender } from '../providers/webpush.sender';
import { PushDeliveryService } from './push-delivery.service';

/**
 * The sender stage of the push worker against real Web Push services on loopback, with a real
 * (SQLite) registry: what one origin's failures and slowness do to pushes to the others.
 */
describe('PushDeliveryService and Web Push origins', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-push-delivery-'));
  let database: Database;
  let delivery: PushDeliveryService;
  let dead: FakeWebPushEndpoint;
  let healthy: FakeWebPushEndpoint;

  beforeAll(async () => {
    database = await openDatabase({ dataDir });
  });

  afterAll(async () => {
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    [dead, healthy] = await Promise.all([FakeWebPushEndpoint.start(), FakeWebPushEndpoint.start()]);
    const vapid = generateVapidKeys();
    // Four at a time in the worker: one per origin.
    const config = loadConfig(pushConfigSchema, { HERALD_DATA_DIR: dataDir, HERALD_PUSH_CONCURRENCY: '4' });
    const webpush = new WebPushSender({
      vapidPublicKey: vapid.publicKey,
      vapidPrivateKey: vapid.privateKey,
      subject: 'mailto:ops@herald.test',
      endpoints: new WebPushEndpointPolicy(['127.0.0.1']),
    });
    delivery = new PushDeliveryService(
      database,
      {} as PushQueue, // the sender stage publishes nothing
      { webpush },
      config,
      pino({ level: 'silent' }),
      new Registry(),
    );
  });

  afterEach(async () => {
    await Promise.all([dead.stop(), healthy.stop()]);
  });

  /** A browser extension of a user of its own, subscribed with `subscription`; its device id. */
  const extension = async (
    subscription: FakeSubscription | { endpoint: string; p256dh: string; auth: string },
  ) => {
    const device = await database.devices.register({
      id: randomUUID(),
      userId: randomUUID(),
      identifier: randomUUID(),
      type: 2,
      provider: 'webpush',
      pushToken: null,
      webPush: subscription,
      organizationIds: [],
      installationId: null,
    });
    return device.id;
  };

  /** The device push the resolver would queue for `deviceId`, as its first delivery. */
  const pushFor = (deviceId: string): ConsumedEvent => ({
    data: devicePushJobCodec.encode({
      jobId: randomUUID(),
      parentJobId: randomUUID(),
      deviceId,
      type: 0,
      payload: { id: randomUUID() },
      contextId: null,
      acceptedAt: Date.now(),
    }),
    attempt: 1,
    sequence: 1,
    subject: 'herald.push.device',
  });

  it('opens the breaker of a failing origin only: pushes to another origin go on, first time', async () => {
    const doomed = await Promise.all(Array.from({ length: 6 }, () => extension(dead.subscription())));
    const fine = await extension(healthy.subscription());
    for (let failure = 0; failure < 5; failure += 1) dead.respondWith(500);

    for (const deviceId of doomed.slice(0, 5)) {
      expect(await delivery.send(pushFor(deviceId))).toMatchObject({
        kind: 'retry',
        reason: `${dead.origin} answered 500`,
      });
    }
    // The sixth user of that origin waits for its breaker, without a request.
    expect(await delivery.send(pushFor(doomed[5]!))).toMatchObject({
      kind: 'retry',
      reason: `${dead.origin} is failing; circuit open`,
    });
    expect(dead.pushes).toHaveLength(5);

    expect(await delivery.send(pushFor(fine))).toEqual({ kind: 'ack' });
    expect(healthy.pushes).toHaveLength(1);
    expect(delivery.outcomes).toEqual({ webpush: { retry: 5, 'circuit-open': 1, sent: 1 } });
  });

  it('lets a slow origin hold its own slot only: its next push is put off, other origins are served', async () => {
    const [first, second, third] = await Promise.all([
      extension(dead.subscription('/push/first')),
      extension(dead.subscription('/push/second')),
      extension(dead.subscription('/push/third')),
    ]);
    const fine = await extension(healthy.subscription());
    dead.stallNext();
    const slow = delivery.send(pushFor(first));
    await eventually(() => expect(dead.pushes).toHaveLength(1));

    // Put off at once (it would otherwise hold one of the worker's slots while it waits).
    expect(await delivery.send(pushFor(second))).toMatchObject({
      kind: 'retry',
      reason: `${dead.origin} has as many pushes in flight as it may`,
    });
    expect(await delivery.send(pushFor(fine))).toEqual({ kind: 'ack' });
    expect(healthy.pushes).toHaveLength(1);

    dead.answerStalled();
    expect(await slow).toEqual({ kind: 'ack' });
    // The marker: a push to that origin after the put-off one; only the marker follows the first.
    expect(await delivery.send(pushFor(third))).toEqual({ kind: 'ack' });
    expect(dead.pushes.map((push) => push.path)).toEqual(['/push/first', '/push/third']);
    expect(delivery.outcomes).toEqual({ webpush: { busy: 1, sent: 3 } });
  });

  it('prunes a subscription whose endpoint is off limits, as one the push service calls gone', async () => {
    const subscription = healthy.subscription();
    const deviceId = await extension({ ...subscription, endpoint: 'https://10.0.0.1/push/x' });

    expect(await delivery.send(pushFor(deviceId))).toEqual({ kind: 'ack' });
    expect(await database.devices.find({ installationId: null, id: deviceId })).toMatchObject({
      provider: null,
      webPush: null,
    });
    expect(delivery.outcomes).toEqual({ webpush: { gone: 1 } });
    expect(healthy.pushes).toEqual([]);
  });
});
