import { randomUUID } from 'node:crypto';

import { afterAll, afterEach, describe, expect, it } from '@jest/globals';

import {
  type AnyHeraldEvent,
  ClientType,
  type Delivery,
  deliveryCodec,
  type DevicePushJob,
  devicePushJobCodec,
  eventCodec,
  type GatewayHeartbeat,
  type Heartbeat,
  HubMethod,
  HubName,
  PushType,
} from '@herald/contracts';

import {
  type Broker,
  type BrokerLimits,
  type ConsumedEvent,
  type ConsumeOutcome,
  type ConsumerOptions,
  type EventSubscription,
} from '../ports';
import { sampleEvent } from './nats.fixture';

/** One engine under test. */
export interface BrokerUnderTest {
  /** A fresh broker: empty streams and buckets, durable consumers that never ran. */
  open(limits?: Partial<BrokerLimits>): Promise<Broker>;
  /**
   * Lets `ms` of broker time pass. The memory engine moves its clock; NATS cannot be told the time,
   * so this resolves at once and the caller polls until the server's own clock has caught up.
   */
  elapse(ms: number): Promise<void>;
  /**
   * Another process on the same broker, which can die without a word (NATS: its own connection,
   * closed without draining, so its pending pulls go with it). One process is all the memory
   * engine knows: there it is the same broker, and `kill` only stops using it.
   */
  otherProcess(broker: Broker): Promise<{ broker: Broker; kill(): Promise<void> }>;
  /** Whether `elapse` moves time exactly (so "not yet expired" can be asserted without racing). */
  controlsTime: boolean;
  /** Polls an assertion until it holds (`eventually` of @herald/testing, passed in). */
  eventually: <T>(assertion: () => T | Promise<T>, options?: { timeoutMs?: number }) => Promise<T>;
  /** Closes every broker opened and removes what they left behind. */
  close(): Promise<void>;
}

const FAST: ConsumerOptions = { maxDeliver: 3, ackWaitMs: 5000, batch: 16 };
const ack = (): ConsumeOutcome => ({ kind: 'ack' });

interface Handled {
  id: string;
  attempt: number;
  sequence: number;
  subject: string;
}

function delivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    eventId: randomUUID(),
    hub: HubName.Main,
    method: HubMethod.ReceiveMessage,
    clientType: ClientType.All,
    message: {
      ContextId: null,
      Type: PushType.SyncVault,
      Payload: { UserId: randomUUID(), Date: new Date('2024-05-01T12:34:56.789Z') },
    },
    eventSequence: 1,
    acceptedAt: 1_714_566_896_789,
    ...overrides,
  };
}

function gatewayBeat(gatewayId: string, watermark = 0): GatewayHeartbeat {
  return {
    gatewayId,
    host: 'host',
    version: 'test',
    startedAt: 1,
    at: 2,
    connections: { hub: 1, 'anonymous-hub': 0 },
    users: 1,
    subscriptions: 1,
    deliveriesPerSecond: 0,
    bytesPerSecond: 0,
    slowClosed: 0,
    replays: 0,
    watermark,
  };
}

/** A promise and the functions that settle it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

/**
 * The behaviour every broker engine must show (ports' doc comments, tested). Run once per engine:
 * NATS as an integration test, memory as a unit test.
 */
export function describeBrokerContract(engine: Broker['engine'], target: BrokerUnderTest): void {
  describe(`Broker contract (${engine})`, () => {
    const { eventually } = target;
    const running: EventSubscription[] = [];

    afterEach(async () => {
      await Promise.all(running.splice(0).map((subscription) => subscription.stop()));
    });

    afterAll(async () => {
      await target.close();
    });

    async function appendAll(broker: Broker, events: AnyHeraldEvent[]): Promise<number[]> {
      const sequences: number[] = [];
      for (const event of events) sequences.push((await broker.eventLog.append(event)).sequence);
      return sequences;
    }

    /** Starts an event consumer that records what it is handed, then lets `decide` answer. */
    async function consume(
      broker: Broker,
      decide: (event: ConsumedEvent, id: string) => ConsumeOutcome | Promise<ConsumeOutcome>,
      options: ConsumerOptions = FAST,
    ) {
      const handled: Handled[] = [];
      const subscription = await broker.eventConsumer.start(options, async (event) => {
        const { id } = eventCodec.decode(event.data);
        handled.push({ id, attempt: event.attempt, sequence: event.sequence, subject: event.subject });
        return decide(event, id);
      });
      running.push(subscription);
      return { handled, subscription };
    }

    const ids = (events: { id: string }[]) => events.map((event) => event.id);

    describe('event log', () => {
      it('appends with sequences growing by one, on the subject of the event type', async () => {
        const broker = await target.open();
        const events = [sampleEvent(), sampleEvent(), sampleEvent()];

        const results = await Promise.all(events.map((event) => broker.eventLog.append(event)));

        // Concurrent appends: each stored once, at distinct consecutive sequences.
        expect(results.map((result) => result.duplicate)).toEqual([false, false, false]);
        expect(results.map((result) => result.sequence).sort()).toEqual([1, 2, 3]);
        const { handled } = await consume(broker, ack);
        await eventually(() => expect(handled).toHaveLength(3));
        expect(handled[0]!.subject).toBe(`${namespaceOf(handled[0]!.subject)}.events.${events[0]!.type}`);
      });

      it('stores an event appended again within the duplicate window once, reporting the first sequence', async () => {
        const broker = await target.open();
        const event = sampleEvent();

        const first = await broker.eventLog.append(event);
        const again = await broker.eventLog.append(event);
        const other = await broker.eventLog.append({ ...event, id: randomUUID() });

        expect(first).toEqual({ sequence: 1, duplicate: false });
        expect(again).toEqual({ sequence: 1, duplicate: true });
        expect(other).toEqual({ sequence: 2, duplicate: false });
        const { handled } = await consume(broker, ack);
        await eventually(() => expect(handled.map((entry) => entry.sequence)).toEqual([1, 2]));
      });

      it('carries explicit recipients and a type it does not know unchanged, on that type’s subject', async () => {
        const broker = await target.open();
        const withRecipients: AnyHeraldEvent = {
          ...sampleEvent(),
          recipients: { users: [randomUUID(), randomUUID()] },
        };
        const unknownType: AnyHeraldEvent = {
          id: randomUUID(),
          type: 28,
          payload: { userId: randomUUID().toUpperCase(), extra: { kept: [1, 'two', null] } },
          contextId: null,
          acceptedAt: new Date(1_000),
        };
        await appendAll(broker, [withRecipients, unknownType]);

        const received: { event: AnyHeraldEvent; subject: string }[] = [];
        const subscription = await broker.eventConsumer.start(FAST, (event) => {
          received.push({ event: eventCodec.decode(event.data), subject: event.subject });
          return Promise.resolve(ack());
        });
        running.push(subscription);
        await eventually(() => expect(received).toHaveLength(2));
        expect(received.map((entry) => entry.event)).toEqual([withRecipients, unknownType]);
        expect(received[1]!.subject).toBe(`${namespaceOf(received[1]!.subject)}.events.28`);
      });
    });

    describe('event consumer', () => {
      it('hands each acked event over once, in stream order, also events appended while running', async () => {
        const broker = await target.open();
        const early = [sampleEvent(), sampleEvent(), sampleEvent()];
        await appendAll(broker, early);

        const { handled } = await consume(broker, ack);
        const late = [sampleEvent(), sampleEvent()];
        await appendAll(broker, late);

        await eventually(() => expect(handled.map((entry) => entry.id)).toEqual(ids([...early, ...late])));
        expect(handled.map((entry) => entry.attempt)).toEqual([1, 1, 1, 1, 1]);
        expect(handled.map((entry) => entry.sequence)).toEqual([1, 2, 3, 4, 5]);
        // A consumer started later on the same durable finds nothing left.
        const { handled: later } = await consume(broker, ack);
        const marker = sampleEvent();
        await appendAll(broker, [marker]);
        await eventually(() => expect([...handled, ...later].map((entry) => entry.id)).toContain(marker.id));
        expect([...handled, ...later]).toHaveLength(6);
      });

      it('redelivers a retried event after its delay with a growing attempt, without holding back the next', async () => {
        const broker = await target.open();
        const [flaky, steady] = [sampleEvent(), sampleEvent()];
        const [flakySequence] = await appendAll(broker, [flaky, steady]);

        const { handled } = await consume(
          broker,
          (event, id) =>
            id === flaky.id && event.attempt < 3 ? { kind: 'retry', delayMs: 100, reason: 'busy' } : ack(),
          { ...FAST, maxDeliver: 5 },
        );

        await eventually(() => expect(handled).toHaveLength(4));
        expect(handled.map((entry) => [entry.id, entry.attempt])).toEqual([
          [flaky.id, 1],
          [steady.id, 1],
          [flaky.id, 2],
          [flaky.id, 3],
        ]);
        expect(handled.filter((entry) => entry.id === flaky.id).map((entry) => entry.sequence)).toEqual([
          flakySequence,
          flakySequence,
          flakySequence,
        ]);
        expect(await broker.cluster.deadLetters()).toEqual({});
      });

      it('does not hand a retried event out again before its delay: later events overtake it', async () => {
        const broker = await target.open();
        const [delayed, ...later] = [sampleEvent(), sampleEvent(), sampleEvent()];
        await appendAll(broker, [delayed]);
        const { handled } = await consume(broker, (_event, id) =>
          id === delayed.id ? { kind: 'retry', delayMs: 30_000, reason: 'come back later' } : ack(),
        );
        await eventually(() => expect(handled).toHaveLength(1));

        // One after the other, each once the one before was handled: a redelivery would slip in.
        for (const [index, event] of later.entries()) {
          // Not waiting for an outcome: a turn of the timers, in which an early redelivery would fire.
          await new Promise((resolve) => setTimeout(resolve, 20));
          await appendAll(broker, [event]);
          await eventually(() => expect(handled).toHaveLength(index + 2));
        }

        // Ordering, not timing: 30 s is far beyond the time the later events need.
        expect(handled.map((entry) => entry.id)).toEqual(ids([delayed, ...later]));
      });

      it('retries an event whose handler throws', async () => {
        const broker = await target.open();
        await appendAll(broker, [sampleEvent()]);

        const { handled } = await consume(broker, (event) => {
          if (event.attempt === 1) throw new Error('database hiccup');
          return ack();
        });

        await eventually(() => expect(handled.map((entry) => entry.attempt)).toEqual([1, 2]));
      }, 20_000);

      it('moves a dead event to the dead letters with its reason, origin and bytes, and never redelivers it', async () => {
        const broker = await target.open();
        const events = [sampleEvent(), sampleEvent(), sampleEvent()];
        const doomed = events[1]!;
        const sequences = await appendAll(broker, events);

        const { handled } = await consume(broker, (_event, id) =>
          id === doomed.id ? { kind: 'dead', reason: 'no route for this event' } : ack(),
        );

        await eventually(() => expect(handled.map((entry) => entry.id)).toEqual(ids(events)));
        const letters = await eventually(async () => {
          const read = await broker.deadLetters.read('events', 0, 10);
          expect(read).toHaveLength(1);
          return read;
        });
        expect(letters[0]).toMatchObject({
          source: 'events',
          reason: 'no route for this event',
          originalSubject: handled[1]!.subject,
          originalSequence: sequences[1],
        });
        expect(eventCodec.decode(letters[0]!.data)).toEqual(eventCodec.decode(eventCodec.encode(doomed)));
        expect(await broker.cluster.deadLetters()).toEqual({ events: 1 });
        // Nothing more is handed out: a marker behind it arrives, the dead one does not come back.
        const marker = sampleEvent();
        await appendAll(broker, [marker]);
        await eventually(() => expect(handled.at(-1)?.id).toBe(marker.id));
        expect(handled.filter((entry) => entry.id === doomed.id)).toHaveLength(1);
      });

      it('dead-letters an event still asking for a retry after maxDeliver attempts', async () => {
        const broker = await target.open();
        const [hopeless, fine] = [sampleEvent(), sampleEvent()];
        const [hopelessSequence] = await appendAll(broker, [hopeless, fine]);

        const { handled } = await consume(broker, (_event, id) =>
          id === hopeless.id ? { kind: 'retry', delayMs: 50, reason: 'downstream unavailable' } : ack(),
        );

        const [letter] = await eventually(async () => {
          const read = await broker.deadLetters.read('events', 0, 10);
          expect(read).toHaveLength(1);
          return read;
        });
        expect(letter).toMatchObject({
          reason: 'gave up after 3 attempts: downstream unavailable',
          originalSequence: hopelessSequence,
        });
        expect(handled.filter((entry) => entry.id === hopeless.id).map((entry) => entry.attempt)).toEqual([
          1, 2, 3,
        ]);
        expect(handled.filter((entry) => entry.id === fine.id).map((entry) => entry.attempt)).toEqual([1]);
      });

      it('hands an event out again after ackWaitMs when the consumer holding it died', async () => {
        const broker = await target.open();
        const event = sampleEvent();
        const options = { ...FAST, ackWaitMs: 1000 };
        const doomed = await target.otherProcess(broker);
        // The other process takes the event and never decides: it hangs, then dies.
        const handled: number[] = [];
        const dying = await doomed.broker.eventConsumer.start(options, (taken) => {
          handled.push(taken.attempt);
          return new Promise<ConsumeOutcome>(() => undefined);
        });
        await appendAll(broker, [event]);
        await eventually(() => expect(handled).toEqual([1]));
        await doomed.kill();
        // Its pulling stops with it; the hung handler never returns, so this never resolves.
        void dying.stop().catch(() => undefined);

        const survivor = await consume(broker, ack, options);
        await target.elapse(options.ackWaitMs);

        const [redelivered] = await eventually(() => {
          expect(survivor.handled.map((entry) => entry.id)).toEqual([event.id]);
          return survivor.handled;
        });
        expect(redelivered!.attempt).toBeGreaterThan(1);
        expect(handled).toEqual([1]);
      }, 20_000);

      it('stop() finishes the event in hand, carries out its outcome and hands over nothing afterwards', async () => {
        const broker = await target.open();
        const [inHand, after] = [sampleEvent(), sampleEvent()];
        const release = deferred<ConsumeOutcome>();
        const stopping = await consume(broker, () => release.promise);
        await appendAll(broker, [inHand]);
        await eventually(() => expect(stopping.handled).toHaveLength(1));

        let stopped = false;
        const stop = stopping.subscription.stop().then(() => (stopped = true));
        // A handler still at work is waited for.
        await Promise.resolve();
        expect(stopped).toBe(false);
        release.resolve(ack());
        await stop;

        await appendAll(broker, [after]);
        const running = await consume(broker, ack);
        await eventually(() => expect(running.handled.map((entry) => entry.id)).toEqual([after.id]));
        // The acked event in hand was not handed out again; the stopped consumer saw nothing new.
        expect(stopping.handled.map((entry) => entry.id)).toEqual([inHand.id]);
      });

      it('shares one durable among competing consumers: each event handled once, by one of them', async () => {
        const broker = await target.open();
        const options = { ...FAST, batch: 4 };
        const [a, b] = [await consume(broker, ack, options), await consume(broker, ack, options)];

        const events = Array.from({ length: 30 }, () => sampleEvent());
        await appendAll(broker, events);

        await eventually(() => expect(a.handled.length + b.handled.length).toBe(events.length));
        const all = [...a.handled, ...b.handled];
        expect(new Set(all.map((entry) => entry.id))).toEqual(new Set(ids(events)));
        expect(all.every((entry) => entry.attempt === 1)).toBe(true);
        // Both compete (each may hold only `batch` at a time on NATS, one at a time in memory).
        expect(a.handled.length).toBeGreaterThan(0);
        expect(b.handled.length).toBeGreaterThan(0);
        for (const { handled } of [a, b]) {
          const own = handled.map((entry) => entry.sequence);
          expect(own).toEqual([...own].sort((x, y) => x - y));
        }
      });
    });

    describe('push queue', () => {
      function deviceJob(jobId = randomUUID()): DevicePushJob {
        return {
          jobId,
          parentJobId: randomUUID(),
          deviceId: randomUUID(),
          type: PushType.SyncVault,
          payload: {},
          contextId: null,
          acceptedAt: 1,
        };
      }

      it('stores a job id once, hands each job to its own lane, and dead-letters by lane', async () => {
        const broker = await target.open();
        const [kept, doomed] = [deviceJob(), deviceJob()];
        await broker.pushQueue.publishDeviceJob(kept);
        await broker.pushQueue.publishDeviceJob(kept);
        await broker.pushQueue.publishDeviceJob(doomed);
        await broker.pushQueue.publishRelayJob({ jobId: randomUUID(), op: 'delete', deviceId: randomUUID() });

        const seen: { lane: string; attempt: number; subject: string }[] = [];
        for (const lane of ['job', 'device'] as const) {
          running.push(
            await broker.pushConsumer.start(lane, FAST, (job) => {
              seen.push({ lane, attempt: job.attempt, subject: job.subject });
              const { jobId } = devicePushJobCodec.decode(job.data);
              return Promise.resolve<ConsumeOutcome>(
                jobId === doomed.jobId ? { kind: 'dead', reason: 'token gone' } : ack(),
              );
            }),
          );
        }

        await eventually(() => expect(seen).toHaveLength(2));
        expect(seen.every((entry) => entry.lane === 'device' && entry.attempt === 1)).toBe(true);
        const [letter] = await eventually(async () => {
          const read = await broker.deadLetters.read('push-device', 0, 10);
          expect(read).toHaveLength(1);
          return read;
        });
        expect(letter).toMatchObject({ reason: 'token gone', originalSequence: 2 });
        expect(await broker.cluster.deadLetters()).toEqual({ 'push-device': 1 });
      });
    });

    describe('deliveries', () => {
      it('hands a delivery live to the subscribers of its subject only, and keeps it in the log', async () => {
        const broker = await target.open();
        const [target1, bystander] = [randomUUID(), randomUUID()];
        const received: { subject: string; traceparent?: string }[] = [];
        const others: string[] = [];
        const unsubscribe = await broker.deliverySubscriber.subscribe('user', target1, (_d, subject, tp) =>
          received.push({ subject, traceparent: tp }),
        );
        await broker.deliverySubscriber.subscribe('org', bystander, (_d, subject) => others.push(subject));
        const subject = broker.deliverySubscriber.subjectOf('user', target1);
        const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

        await broker.deliveryPublisher.publish('user', target1, delivery(), traceparent);
        await broker.deliveryPublisher.publish('org', bystander, delivery());
        await broker.deliverySubscriber.flush();

        await eventually(() => expect(received).toEqual([{ subject, traceparent }]));
        await eventually(() => expect(others).toHaveLength(1));
        expect(await broker.deliveryLog.latestSequence(subject)).toBe(1);

        unsubscribe();
        await broker.deliveryPublisher.publish('user', target1, delivery());
        await broker.deliveryPublisher.publish('org', bystander, delivery());
        // Published after the second user delivery: once it is here, that one would have been too.
        await eventually(() => expect(others).toHaveLength(2));
        expect(received).toHaveLength(1);
        expect(await broker.deliveryLog.latestSequence(subject)).toBe(3);
      });

      it('stores the same (event id, subject, client type) once', async () => {
        const broker = await target.open();
        const [userId, otherUserId] = [randomUUID(), randomUUID()];
        const sent = delivery({ clientType: ClientType.Browser });

        await broker.deliveryPublisher.publish('user', userId, sent);
        await broker.deliveryPublisher.publish('user', userId, sent);
        await broker.deliveryPublisher.publish('user', userId, { ...sent, acceptedAt: sent.acceptedAt + 1 });
        await broker.deliveryPublisher.publish('user', userId, { ...sent, clientType: ClientType.Mobile });
        await broker.deliveryPublisher.publish('user', otherUserId, sent);

        const subject = broker.deliverySubscriber.subjectOf('user', userId);
        expect((await broker.deliveryLog.readAfter(subject, 0, 100, 100)).map((s) => s.sequence)).toEqual([
          1, 2,
        ]);
        expect(await broker.deliveryLog.bounds()).toEqual({ first: 1, last: 3 });
      });

      it('reads a subject back from a sequence, up to a sequence, at most a limit, oldest first', async () => {
        const broker = await target.open();
        const [mine, theirs] = [randomUUID(), randomUUID()];
        const subject = broker.deliverySubscriber.subjectOf('user', mine);
        const published: Delivery[] = [];
        // Interleaved: sequences 1..10, odd ones mine.
        for (let index = 0; index < 10; index += 1) {
          const sent = delivery({ eventSequence: index + 1 });
          await broker.deliveryPublisher.publish('user', index % 2 === 0 ? mine : theirs, sent);
          if (index % 2 === 0) published.push(sent);
        }

        expect(await broker.deliveryLog.bounds()).toEqual({ first: 1, last: 10 });
        expect(await broker.deliveryLog.latestSequence(subject)).toBe(9);
        expect(
          await broker.deliveryLog.latestSequence(broker.deliverySubscriber.subjectOf('user', randomUUID())),
        ).toBe(0);

        const all = await broker.deliveryLog.readAfter(subject, 0, 10, 100);
        expect(all.map((stored) => stored.sequence)).toEqual([1, 3, 5, 7, 9]);
        expect(all.every((stored) => stored.subject === subject)).toBe(true);
        expect(all.map((stored) => deliveryCodec.decode(stored.data))).toEqual(published);

        const read = (after: number, upTo: number, limit: number) =>
          broker.deliveryLog
            .readAfter(subject, after, upTo, limit)
            .then((found) => found.map((stored) => stored.sequence));
        expect(await read(3, 10, 100)).toEqual([5, 7, 9]);
        expect(await read(4, 10, 2)).toEqual([5, 7]);
        expect(await read(0, 6, 100)).toEqual([1, 3, 5]);
        expect(await read(9, 10, 100)).toEqual([]);
        expect(await read(0, 10, 0)).toEqual([]);
      });

      it('trims what is older than the replay window: bounds move past it, reads find nothing', async () => {
        const broker = await target.open({ replayWindowMs: 1000 });
        const userId = randomUUID();
        const subject = broker.deliverySubscriber.subjectOf('user', userId);
        await broker.deliveryPublisher.publish('user', userId, delivery());
        await broker.deliveryPublisher.publish('user', userId, delivery());
        expect(await broker.deliveryLog.bounds()).toEqual({ first: 1, last: 2 });

        await target.elapse(1001);

        await eventually(async () =>
          expect(await broker.deliveryLog.bounds()).toEqual({ first: 3, last: 2 }),
        );
        expect(await broker.deliveryLog.latestSequence(subject)).toBe(0);
        expect(await broker.deliveryLog.readAfter(subject, 0, 2, 10)).toEqual([]);
        // Sequences go on from where they were: never reused.
        await broker.deliveryPublisher.publish('user', userId, delivery());
        expect(await broker.deliveryLog.bounds()).toEqual({ first: 3, last: 3 });
        expect(await broker.deliveryLog.latestSequence(subject)).toBe(3);
      }, 20_000);
    });

    describe('presence (KV with TTL and compare-and-set)', () => {
      const connected = (connectionId: string, sinceSequence = 1) =>
        ({ state: 'connected', connectionId, gatewayId: 'gw', sinceSequence, at: 1 }) as const;
      const disconnected = (connectionId: string, resumeSequence: number) =>
        ({ state: 'disconnected', connectionId, gatewayId: 'gw', resumeSequence, at: 2 }) as const;

      it('a late close of an old connection never rewinds a newer one', async () => {
        const { presence } = await target.open();
        const userId = randomUUID();

        await presence.markConnected(userId, 'phone', connected('old'));
        await presence.markConnected(userId, 'phone', connected('new', 7));
        await presence.markDisconnected(userId, 'phone', disconnected('old', 3));
        expect(await presence.get(userId, 'phone')).toEqual(connected('new', 7));

        await presence.markDisconnected(userId, 'phone', disconnected('new', 9));
        expect(await presence.get(userId, 'phone')).toEqual(disconnected('new', 9));
        // Another device of the same user, and an unknown one.
        expect(await presence.get(userId, 'laptop')).toBeUndefined();
        await presence.markDisconnected(userId, 'laptop', disconnected('lone', 4));
        expect(await presence.get(userId, 'laptop')).toEqual(disconnected('lone', 4));
      });

      it('a close racing a newer connection leaves the newer connection in place, whichever lands first', async () => {
        const { presence } = await target.open();
        for (let round = 0; round < 10; round += 1) {
          const userId = randomUUID();
          await presence.markConnected(userId, 'd', connected('old'));
          await Promise.all([
            presence.markDisconnected(userId, 'd', disconnected('old', 5)),
            presence.markConnected(userId, 'd', connected('new', 6)),
          ]);
          expect(await presence.get(userId, 'd')).toEqual(connected('new', 6));
        }
      });

      it('a record expires the replay window after its last write', async () => {
        const { presence } = await target.open({ replayWindowMs: 1000 });
        const userId = randomUUID();
        await presence.markConnected(userId, 'd', connected('c'));
        expect(await presence.get(userId, 'd')).toEqual(connected('c'));

        if (target.controlsTime) {
          // Written again before expiry, it lives on (NATS: not asserted, it would race the clock).
          await target.elapse(600);
          await presence.markDisconnected(userId, 'd', disconnected('c', 2));
          await target.elapse(600);
          expect(await presence.get(userId, 'd')).toEqual(disconnected('c', 2));
        }
        await target.elapse(1001);
        await eventually(async () => expect(await presence.get(userId, 'd')).toBeUndefined());
        // Once expired, a close of that connection writes afresh (nothing to compare with).
        await presence.markDisconnected(userId, 'd', disconnected('c', 3));
        expect(await presence.get(userId, 'd')).toEqual(disconnected('c', 3));
      }, 20_000);
    });

    describe('gateways and heartbeats', () => {
      it('keeps one entry per gateway, its last beat, until it stops beating for the TTL', async () => {
        const { gateways } = await target.open({ gatewaysTtlMs: 1000 });
        await gateways.put(gatewayBeat('gw-a', 1));
        await gateways.put(gatewayBeat('gw-b', 1));
        await gateways.put(gatewayBeat('gw-a', 2));

        expect(await gateways.get('gw-a')).toEqual(gatewayBeat('gw-a', 2));
        expect((await gateways.list()).map((beat) => [beat.gatewayId, beat.watermark]).sort()).toEqual([
          ['gw-a', 2],
          ['gw-b', 1],
        ]);

        await target.elapse(1001);
        await eventually(async () => expect(await gateways.list()).toEqual([]));
        expect(await gateways.get('gw-a')).toBeUndefined();
      }, 20_000);

      it('follows every kept beat of gateways and push workers, then live ones, in order', async () => {
        const broker = await target.open();
        const worker = {
          workerId: 'worker-1',
          host: 'h',
          version: 'v',
          startedAt: 1,
          at: 2,
          sends: { fcm: { sent: 1 } },
        };
        await broker.gateways.put(gatewayBeat('gw-a', 1));
        await broker.heartbeats.publish({ kind: 'push-worker', beat: worker });

        const seen: Heartbeat[] = [];
        const stop = await broker.cluster.follow((heartbeat) => seen.push(heartbeat));
        await eventually(() => expect(seen).toHaveLength(2));
        await broker.heartbeats.publish({ kind: 'gateway', beat: gatewayBeat('gw-b', 5) });

        await eventually(() =>
          expect(seen).toEqual([
            { kind: 'gateway', beat: gatewayBeat('gw-a', 1) },
            { kind: 'push-worker', beat: worker },
            { kind: 'gateway', beat: gatewayBeat('gw-b', 5) },
          ]),
        );
        await stop();
      });
    });

    describe('control bus', () => {
      it('hands a disconnect command to every registered handler, with the reason cut to 200 characters', async () => {
        const { control } = await target.open();
        const first: [string, string][] = [];
        const second: [string, string][] = [];
        const stopFirst = await control.onDisconnectUser((userId, reason) => first.push([userId, reason]));
        const stopSecond = await control.onDisconnectUser((userId, reason) => second.push([userId, reason]));
        const userId = randomUUID();

        await control.disconnectUser(userId, 'x'.repeat(300));
        await eventually(() => expect(first).toEqual([[userId, 'x'.repeat(200)]]));
        await eventually(() => expect(second).toEqual([[userId, 'x'.repeat(200)]]));

        stopFirst();
        await control.disconnectUser(userId, 'again');
        await eventually(() => expect(second).toHaveLength(2));
        expect(first).toHaveLength(1);
        stopSecond();
      });

      it('answers a connection query from the gateway holding it, and undefined when none answers', async () => {
        const { control } = await target.open();
        const stop = await control.onConnectionQuery('gw-1', (connectionId) =>
          connectionId === 'open-one' ? { state: 'open', resumeSequence: 42 } : { state: 'closed' },
        );

        expect(await control.queryConnection('gw-1', 'open-one')).toEqual({
          state: 'open',
          resumeSequence: 42,
        });
        expect(await control.queryConnection('gw-1', 'other')).toEqual({ state: 'closed' });
        // Nobody registered under that id: the gateway is gone.
        expect(await control.queryConnection('gw-2', 'open-one')).toBeUndefined();
        stop();
        expect(await control.queryConnection('gw-1', 'open-one')).toBeUndefined();
      });
    });
  });
}

/** The namespace part of a subject (`<ns>.events.<type>`). */
function namespaceOf(subject: string): string {
  return subject.split('.')[0]!;
}
