import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { eventCodec } from '@herald/contracts';
import { deleteNamespace, TEST_NATS_URL, testNamespace } from '@herald/testing';

import { NatsTestBed, sampleEvent } from '../testing/nats.fixture';
import { type NatsClient } from './nats-client';
import { NatsEventLog } from './nats-event-log';

describe('NatsEventLog', () => {
  const bed = new NatsTestBed({ servers: TEST_NATS_URL, testNamespace, deleteNamespace });
  let client: NatsClient;
  let log: NatsEventLog;

  beforeAll(async () => {
    client = await bed.connect(await bed.namespace());
    log = new NatsEventLog(client);
  });

  afterAll(async () => {
    await bed.close();
  });

  const storedCount = async () =>
    (await client.manager.streams.info(client.names.streams.events)).state.messages;

  it('appends events with increasing sequences, on the subject of their type', async () => {
    const events = [sampleEvent(), sampleEvent(), sampleEvent()];
    const before = await storedCount();

    const results = [];
    for (const event of events) {
      results.push(await log.append(event));
    }

    expect(results.map((result) => result.duplicate)).toEqual([false, false, false]);
    const sequences = results.map((result) => result.sequence);
    expect(sequences[1]).toBeGreaterThan(sequences[0]!);
    expect(sequences[2]).toBeGreaterThan(sequences[1]!);
    expect(await storedCount()).toBe(before + 3);

    const stored = await client.manager.streams.getMessage(client.names.streams.events, {
      seq: sequences[1]!,
    });
    expect(stored.subject).toBe(`${client.names.namespace}.events.${events[1]!.type}`);
    expect(eventCodec.decode(stored.data)).toEqual(events[1]);
  });

  it('stores an event appended twice within the duplicate window once', async () => {
    const event = sampleEvent();
    const before = await storedCount();

    const first = await log.append(event);
    const again = await log.append(event);

    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ sequence: first.sequence, duplicate: true });
    expect(await storedCount()).toBe(before + 1);
  });

  it('stores a different event with the same content separately', async () => {
    const event = sampleEvent();
    const before = await storedCount();

    const first = await log.append(event);
    const other = await log.append({ ...event, id: `${event.id}-other` });

    expect(other.duplicate).toBe(false);
    expect(other.sequence).toBeGreaterThan(first.sequence);
    expect(await storedCount()).toBe(before + 2);
  });
});
