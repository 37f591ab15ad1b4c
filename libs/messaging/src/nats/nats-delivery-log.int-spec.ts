import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { ClientType, type Delivery, deliveryCodec, HubMethod, HubName, PushType } from '@herald/contracts';
import { deleteNamespace, TEST_NATS_URL, testNamespace } from '@herald/testing';

import { NatsTestBed } from '../testing/nats.fixture';
import { type NatsClient } from './nats-client';
import { NatsDeliveryPublisher } from './nats-deliveries';
import { NatsDeliveryLog } from './nats-delivery-log';

function delivery(userId: string): Delivery {
  return {
    eventId: randomUUID(),
    hub: HubName.Main,
    method: HubMethod.ReceiveMessage,
    clientType: ClientType.All,
    message: { ContextId: null, Type: PushType.SyncVault, Payload: { UserId: userId, Date: new Date() } },
    eventSequence: 1,
    acceptedAt: Date.now(),
  };
}

/**
 * What catch-up and replay rely on: `readAfter` pages through one subject (the next page starts
 * after the last sequence read), stops at `upTo`, and `bounds().first` moves past what left the
 * stream, while `readAfter` from an older point returns only what is kept.
 */
describe('NatsDeliveryLog', () => {
  const bed = new NatsTestBed({ servers: TEST_NATS_URL, testNamespace, deleteNamespace });
  let client: NatsClient;
  let publisher: NatsDeliveryPublisher;
  let log: NatsDeliveryLog;

  beforeAll(async () => {
    client = await bed.connect(await bed.namespace());
    publisher = new NatsDeliveryPublisher(client);
    log = new NatsDeliveryLog(client);
  });

  afterAll(async () => {
    await bed.close();
  });

  it('reads one subject in pages, in order, up to the given sequence', async () => {
    const [userId, otherUserId] = [randomUUID(), randomUUID()];
    const subject = client.names.subjects.deliver('user', userId);
    const start = (await log.bounds()).last;
    const sent: string[] = [];
    // Interleaved with another subject, so the sequences of one subject have gaps.
    for (let index = 0; index < 7; index += 1) {
      const mine = delivery(userId);
      sent.push(mine.eventId);
      await publisher.publish('user', userId, mine);
      await publisher.publish('user', otherUserId, delivery(otherUserId));
    }
    const { last } = await log.bounds();
    expect(last).toBe(start + 14);
    expect(await log.latestSequence(subject)).toBe(last - 1);
    expect(await log.latestSequence(client.names.subjects.deliver('user', randomUUID()))).toBe(0);

    const pages: number[][] = [];
    let after = start;
    for (;;) {
      const page = await log.readAfter(subject, after, last, 3);
      pages.push(page.map((stored) => stored.sequence));
      if (page.length < 3) break;
      after = page.at(-1)!.sequence;
    }
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    // The pages together are the whole subject after `start`, oldest first, nothing twice.
    const whole = await log.readAfter(subject, start, last, 100);
    const read = pages.flat();
    expect(read).toEqual(whole.map((stored) => stored.sequence));
    expect(whole.map((stored) => deliveryCodec.decode(stored.data).eventId)).toEqual(sent);
    expect(whole.every((stored) => stored.subject === subject)).toBe(true);

    // `upTo` is inclusive and nothing past it is read.
    const bounded = await log.readAfter(subject, start, read[3]!, 100);
    expect(bounded.map((stored) => stored.sequence)).toEqual(read.slice(0, 4));
  });

  it('moves the first sequence past what left the stream and reads only what is kept', async () => {
    const userId = randomUUID();
    const subject = client.names.subjects.deliver('user', userId);
    const start = (await log.bounds()).last;
    for (let index = 0; index < 4; index += 1) await publisher.publish('user', userId, delivery(userId));
    // The first two of them leave the stream, as if they had aged out.
    await client.manager.streams.purge(client.names.streams.deliveries, { seq: start + 3 });

    const { first, last } = await log.bounds();
    expect(first).toBe(start + 3);
    expect(last).toBe(start + 4);
    const kept = await log.readAfter(subject, start, last, 100);
    expect(kept.map((stored) => stored.sequence)).toEqual([start + 3, start + 4]);

    // Everything gone: first is one past last.
    await client.manager.streams.purge(client.names.streams.deliveries);
    expect(await log.bounds()).toEqual({ first: last + 1, last });
    expect(await log.latestSequence(subject)).toBe(0);
    expect(await log.readAfter(subject, start, last, 100)).toEqual([]);
  });
});
