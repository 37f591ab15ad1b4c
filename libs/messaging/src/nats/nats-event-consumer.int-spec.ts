import { afterAll, describe, expect, it } from '@jest/globals';

import { type AnyHeraldEvent, DEAD_LETTER_REASON_HEADER, eventCodec } from '@herald/contracts';
import { deleteNamespace, eventually, TEST_NATS_URL, testNamespace } from '@herald/testing';

import { type ConsumedEvent, type ConsumeOutcome, type EventSubscription } from '../ports';
import { NatsTestBed, sampleEvent, silentLogger } from '../testing/nats.fixture';
import { type NatsClient } from './nats-client';
import { type EventConsumerOptions, NatsEventConsumer } from './nats-event-consumer';
import { NatsEventLog } from './nats-event-log';

const FAST: EventConsumerOptions = { maxDeliver: 3, ackWaitMs: 5000, batch: 16 };

interface Handled {
  id: string;
  attempt: number;
  sequence: number;
  subject: string;
}

type Handler = (event: ConsumedEvent, id: string) => ConsumeOutcome | Promise<ConsumeOutcome>;

describe('NatsEventConsumer', () => {
  const bed = new NatsTestBed({ servers: TEST_NATS_URL, testNamespace, deleteNamespace });
  const subscriptions: EventSubscription[] = [];

  afterAll(async () => {
    await Promise.all(subscriptions.map((subscription) => subscription.stop()));
    await bed.close();
  });

  /** A fresh namespace (its own EVENTS stream and durable consumer) and a connection to it. */
  async function freshLog(): Promise<{ client: NatsClient; log: NatsEventLog }> {
    const client = await bed.connect(await bed.namespace());
    return { client, log: new NatsEventLog(client) };
  }

  /** Starts a consumer that records every event it is handed, then lets `decide` answer. */
  async function startConsumer(client: NatsClient, options: EventConsumerOptions, decide: Handler) {
    const handled: Handled[] = [];
    const consumer = new NatsEventConsumer(client, silentLogger, options);
    const subscription = await consumer.start(async (event) => {
      const { id } = eventCodec.decode(event.data);
      handled.push({ id, attempt: event.attempt, sequence: event.sequence, subject: event.subject });
      return decide(event, id);
    });
    subscriptions.push(subscription);
    return { handled, subscription };
  }

  async function appendAll(log: NatsEventLog, events: AnyHeraldEvent[]): Promise<number[]> {
    const sequences: number[] = [];
    for (const event of events) {
      sequences.push((await log.append(event)).sequence);
    }
    return sequences;
  }

  const consumerInfo = (client: NatsClient) =>
    client.manager.consumers.info(client.names.streams.events, client.names.consumers.dispatcher);

  /** Every event up to `sequence` is settled (acked or terminated) and nothing is outstanding. */
  async function settledThrough(client: NatsClient, sequence: number) {
    return eventually(async () => {
      const info = await consumerInfo(client);
      expect(info.ack_floor.stream_seq).toBe(sequence);
      expect(info.num_ack_pending).toBe(0);
      expect(info.num_pending).toBe(0);
      return info;
    });
  }

  async function deadLetters(client: NatsClient) {
    const { streams, subjects } = client.names;
    const count = (await client.manager.streams.info(streams.dead)).state.messages;
    return {
      count,
      last: () => client.manager.streams.getMessage(streams.dead, { last_by_subj: subjects.dead('events') }),
    };
  }

  const ack = (): ConsumeOutcome => ({ kind: 'ack' });
  const ids = (events: AnyHeraldEvent[]) => events.map((event) => event.id);

  it('hands each acked event over once, in stream order', async () => {
    const { client, log } = await freshLog();
    const early = [sampleEvent(), sampleEvent(), sampleEvent()];
    await appendAll(log, early);

    const { handled } = await startConsumer(client, FAST, ack);
    const late = [sampleEvent(), sampleEvent()];
    const sequences = await appendAll(log, late);

    await eventually(() => expect(handled.map((entry) => entry.id)).toEqual(ids([...early, ...late])));
    const info = await settledThrough(client, sequences[1]!);
    // Five deliveries in all: nothing was handed over a second time.
    expect(info.delivered.consumer_seq).toBe(5);
    expect(handled.map((entry) => entry.attempt)).toEqual([1, 1, 1, 1, 1]);
    expect(handled.map((entry) => entry.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(handled[0]!.subject).toBe(`${client.names.namespace}.events.${early[0]!.type}`);
    expect((await deadLetters(client)).count).toBe(0);
  });

  it('moves a dead event to DEAD with its reason, origin and bytes, and never redelivers it', async () => {
    const { client, log } = await freshLog();
    const events = [sampleEvent(), sampleEvent(), sampleEvent()];
    const doomed = events[1]!.id;
    const sequences = await appendAll(log, events);

    const { handled } = await startConsumer(client, FAST, (_event, id) =>
      id === doomed ? { kind: 'dead', reason: 'no route for this event' } : ack(),
    );

    await eventually(() => expect(handled.map((entry) => entry.id)).toEqual(ids(events)));
    const info = await settledThrough(client, sequences[2]!);
    expect(info.delivered.consumer_seq).toBe(3);

    const dead = await deadLetters(client);
    expect(dead.count).toBe(1);
    const letter = await dead.last();
    const original = await client.manager.streams.getMessage(client.names.streams.events, {
      seq: sequences[1]!,
    });
    expect(letter.subject).toBe(`${client.names.namespace}.dead.events`);
    expect(letter.header.get(DEAD_LETTER_REASON_HEADER)).toBe('no route for this event');
    expect(letter.header.get('Herald-Dead-Reason')).toBe('no route for this event');
    expect(letter.header.get('Herald-Original-Subject')).toBe(original.subject);
    expect(letter.header.get('Herald-Original-Sequence')).toBe(String(sequences[1]));
    expect(Buffer.from(letter.data).equals(Buffer.from(original.data))).toBe(true);
    expect(eventCodec.decode(letter.data).id).toBe(doomed);
  });

  it('redelivers a retried event after its delay, with a growing attempt count, without holding back the next', async () => {
    const { client, log } = await freshLog();
    const [flaky, steady] = [sampleEvent(), sampleEvent()];
    const sequences = await appendAll(log, [flaky, steady]);
    const delayMs = 300;

    const { handled } = await startConsumer(client, { ...FAST, maxDeliver: 5 }, (event, id) =>
      id === flaky.id && event.attempt < 3 ? { kind: 'retry', delayMs, reason: 'downstream busy' } : ack(),
    );

    await eventually(() => expect(handled).toHaveLength(4));
    expect(handled.map((entry) => [entry.id, entry.attempt])).toEqual([
      [flaky.id, 1],
      [steady.id, 1],
      [flaky.id, 2],
      [flaky.id, 3],
    ]);
    const flakySequences = handled.filter((entry) => entry.id === flaky.id).map((entry) => entry.sequence);
    expect(flakySequences).toEqual([sequences[0], sequences[0], sequences[0]]);
    await settledThrough(client, sequences[1]!);
    expect((await deadLetters(client)).count).toBe(0);
  });

  it('waits at least the retry delay before redelivering', async () => {
    const { client, log } = await freshLog();
    const event = sampleEvent();
    const [sequence] = await appendAll(log, [event]);
    const delayMs = 400;
    const seenAt: number[] = [];

    await startConsumer(client, { ...FAST, ackWaitMs: 5000 }, (consumed) => {
      seenAt.push(Date.now());
      return consumed.attempt === 1 ? { kind: 'retry', delayMs, reason: 'later' } : ack();
    });

    await eventually(() => expect(seenAt).toHaveLength(2));
    // Timers may fire a little early; the broker-side delay must still be clearly honoured.
    expect(seenAt[1]! - seenAt[0]!).toBeGreaterThanOrEqual(delayMs - 50);
    await settledThrough(client, sequence!);
  });

  it('dead-letters an event still asking for a retry after maxDeliver attempts', async () => {
    const { client, log } = await freshLog();
    const [hopeless, fine] = [sampleEvent(), sampleEvent()];
    const sequences = await appendAll(log, [hopeless, fine]);

    const { handled } = await startConsumer(client, FAST, (_event, id) =>
      id === hopeless.id ? { kind: 'retry', delayMs: 50, reason: 'downstream unavailable' } : ack(),
    );

    await eventually(async () => expect((await deadLetters(client)).count).toBe(1));
    const letter = await (await deadLetters(client)).last();
    expect(letter.header.get(DEAD_LETTER_REASON_HEADER)).toBe(
      'gave up after 3 attempts: downstream unavailable',
    );
    expect(letter.header.get('Herald-Original-Sequence')).toBe(String(sequences[0]));
    expect(eventCodec.decode(letter.data).id).toBe(hopeless.id);

    const info = await settledThrough(client, sequences[1]!);
    expect(info.delivered.consumer_seq).toBe(4);
    expect(handled.filter((entry) => entry.id === hopeless.id).map((entry) => entry.attempt)).toEqual([
      1, 2, 3,
    ]);
    expect(handled.filter((entry) => entry.id === fine.id).map((entry) => entry.attempt)).toEqual([1]);
  }, 20_000);

  it('retries an event whose handler throws', async () => {
    const { client, log } = await freshLog();
    const event = sampleEvent();
    const [sequence] = await appendAll(log, [event]);

    const { handled } = await startConsumer(client, FAST, (consumed) => {
      if (consumed.attempt === 1) {
        throw new Error('database hiccup');
      }
      return ack();
    });

    await eventually(() => expect(handled.map((entry) => entry.attempt)).toEqual([1, 2]));
    await settledThrough(client, sequence!);
    expect((await deadLetters(client)).count).toBe(0);
  }, 20_000);

  it('dead-letters an event whose handler keeps throwing, with the error as the reason', async () => {
    const { client, log } = await freshLog();
    const [sequence] = await appendAll(log, [sampleEvent()]);

    const { handled } = await startConsumer(client, { ...FAST, maxDeliver: 2 }, () => {
      throw new Error('database down');
    });

    await eventually(async () => expect((await deadLetters(client)).count).toBe(1), { timeoutMs: 15_000 });
    const letter = await (await deadLetters(client)).last();
    expect(letter.header.get(DEAD_LETTER_REASON_HEADER)).toBe('gave up after 2 attempts: database down');
    expect(handled.map((entry) => entry.attempt)).toEqual([1, 2]);
    await settledThrough(client, sequence!);
  }, 20_000);

  it('shares the durable consumer between processes: together they handle each event once', async () => {
    const namespace = await bed.namespace();
    const [first, second] = [await bed.connect(namespace), await bed.connect(namespace)];
    const options = { ...FAST, ackWaitMs: 10_000, batch: 4 };

    const [a, b] = await Promise.all([
      startConsumer(first, options, ack),
      startConsumer(second, options, ack),
    ]);
    // Both processes have a pull request waiting before any event arrives.
    await eventually(async () => expect((await consumerInfo(first)).num_waiting).toBe(2));

    const events = Array.from({ length: 40 }, () => sampleEvent());
    const sequences = await appendAll(new NatsEventLog(first), events);

    await eventually(() => expect(a.handled.length + b.handled.length).toBe(events.length));
    const info = await settledThrough(first, sequences.at(-1)!);
    expect(info.delivered.consumer_seq).toBe(events.length);

    const all = [...a.handled, ...b.handled];
    expect(new Set(all.map((entry) => entry.id))).toEqual(new Set(ids(events)));
    expect(all.every((entry) => entry.attempt === 1)).toBe(true);
    expect(a.handled.length).toBeGreaterThan(0);
    expect(b.handled.length).toBeGreaterThan(0);
    for (const { handled } of [a, b]) {
      const own = handled.map((entry) => entry.sequence);
      expect(own).toEqual([...own].sort((x, y) => x - y));
    }
  });

  it('stop() resolves and hands over nothing afterwards', async () => {
    const namespace = await bed.namespace();
    const [first, second] = [await bed.connect(namespace), await bed.connect(namespace)];
    const log = new NatsEventLog(first);
    const [before, after] = [sampleEvent(), sampleEvent()];

    const stopped = await startConsumer(first, FAST, ack);
    await appendAll(log, [before]);
    await eventually(() => expect(stopped.handled.map((entry) => entry.id)).toEqual([before.id]));

    await expect(stopped.subscription.stop()).resolves.toBeUndefined();
    const [sequence] = await appendAll(log, [after]);

    // A consumer still running gets the next event; the stopped one never sees it.
    const running = await startConsumer(second, FAST, ack);
    await eventually(() => expect(running.handled.map((entry) => entry.id)).toEqual([after.id]));
    await settledThrough(first, sequence!);
    expect(stopped.handled.map((entry) => entry.id)).toEqual([before.id]);
  }, 20_000);
});
