import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type JetStreamManager, nanos, RetentionPolicy, StorageType, type StreamInfo } from 'nats';

import { deleteNamespace, TEST_NATS_URL, testNamespace } from '@herald/testing';

import { NatsTestBed } from '../testing/nats.fixture';
import { type NatsClient } from './nats-client';
import { ensureStreams, streamConfigs, type TopologyOptions } from './topology';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const options: TopologyOptions = { eventsMaxAgeMs: 2 * HOUR, replayWindowMs: 5 * MINUTE, replicas: 1 };

/**
 * The real manager, except that each stream is created by "another process" between this one's
 * `info` (not found) and its `add`, and the server answers that `add` as nats-server 2.9 sometimes
 * does under such a race: "subjects overlap with an existing stream".
 */
function managerLosingEveryCreationRace(real: JetStreamManager): JetStreamManager {
  const looked = new Set<string>();
  const streams = new Proxy(real.streams, {
    get(target, property) {
      if (property === 'info') {
        return async (name: string) => {
          if (!looked.has(name)) {
            looked.add(name);
            throw new Error('stream not found');
          }
          return target.info(name);
        };
      }
      if (property === 'add') {
        return async (config: Parameters<typeof target.add>[0]) => {
          await target.add(config);
          throw new Error('subjects overlap with an existing stream');
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value.bind(target) as unknown) : value;
    },
  });
  return new Proxy(real, {
    get: (target, property): unknown => (property === 'streams' ? streams : Reflect.get(target, property)),
  });
}

describe('ensureStreams', () => {
  const bed = new NatsTestBed({ servers: TEST_NATS_URL, testNamespace, deleteNamespace });

  /** A connection to a new namespace without any stream yet. */
  const connect = () => bed.connect(testNamespace());

  async function streamsOf(
    client: NatsClient,
  ): Promise<Record<'events' | 'deliveries' | 'dead', StreamInfo>> {
    const { streams } = client.names;
    return {
      events: await client.manager.streams.info(streams.events),
      deliveries: await client.manager.streams.info(streams.deliveries),
      dead: await client.manager.streams.info(streams.dead),
    };
  }

  let client: NatsClient;

  beforeAll(async () => {
    client = await connect();
    await ensureStreams(client.manager, streamConfigs(client.names, options));
  });

  afterAll(async () => {
    await bed.close();
  });

  it('creates EVENTS, DELIVERIES and DEAD with the configured limits', async () => {
    const ns = client.names.namespace;
    const { events, deliveries, dead } = await streamsOf(client);

    expect(events.config).toMatchObject({
      name: `${ns}_EVENTS`,
      subjects: [`${ns}.events.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(2 * HOUR),
      duplicate_window: nanos(2 * MINUTE),
    });
    expect(deliveries.config).toMatchObject({
      name: `${ns}_DELIVERIES`,
      subjects: [`${ns}.deliver.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(5 * MINUTE),
      duplicate_window: nanos(2 * MINUTE),
      allow_direct: true,
    });
    expect(dead.config).toMatchObject({
      name: `${ns}_DEAD`,
      subjects: [`${ns}.dead.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(14 * 24 * HOUR),
    });
  });

  it('keeps the DELIVERIES duplicate window within a replay window shorter than 2 minutes', async () => {
    const short = await connect();
    await ensureStreams(short.manager, streamConfigs(short.names, { ...options, replayWindowMs: 30_000 }));
    const { deliveries } = await streamsOf(short);
    expect(deliveries.config.max_age).toBe(nanos(30_000));
    expect(deliveries.config.duplicate_window).toBe(nanos(30_000));
  });

  it('changes nothing when run again, also three times at once', async () => {
    const before = await streamsOf(client);

    await ensureStreams(client.manager, streamConfigs(client.names, options));
    await Promise.all(
      [1, 2, 3].map(() => ensureStreams(client.manager, streamConfigs(client.names, options))),
    );

    const after = await streamsOf(client);
    for (const key of ['events', 'deliveries', 'dead'] as const) {
      expect(after[key].config).toEqual(before[key].config);
      // Same creation time: updated in place, never deleted and recreated.
      expect(after[key].created).toBe(before[key].created);
    }
  });

  it('creates the streams once when three processes start at the same moment', async () => {
    const fresh = await connect();
    const processes = [
      fresh,
      await bed.connect(fresh.names.namespace),
      await bed.connect(fresh.names.namespace),
    ];
    const results = await Promise.allSettled(
      processes.map((each) => ensureStreams(each.manager, streamConfigs(each.names, options))),
    );
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);

    const { events, deliveries, dead } = await streamsOf(fresh);
    expect(events.config.max_age).toBe(nanos(2 * HOUR));
    expect(deliveries.config.max_age).toBe(nanos(5 * MINUTE));
    expect(dead.config.subjects).toEqual([`${fresh.names.namespace}.dead.>`]);
  });

  it('updates a stream another process created first, even when the server reports a subject overlap', async () => {
    const fresh = await connect();
    await expect(
      ensureStreams(managerLosingEveryCreationRace(fresh.manager), streamConfigs(fresh.names, options)),
    ).resolves.toEqual([]);
    const { events, deliveries, dead } = await streamsOf(fresh);
    expect(events.config.max_age).toBe(nanos(2 * HOUR));
    expect(deliveries.config.max_age).toBe(nanos(5 * MINUTE));
    expect(dead.config.max_age).toBe(nanos(14 * 24 * HOUR));
  });

  it('refuses to start when another stream owns the subjects', async () => {
    const fresh = await connect();
    const { namespace } = fresh.names;
    await fresh.manager.streams.add({ name: `${namespace}_SQUATTER`, subjects: [`${namespace}.events.>`] });

    await expect(ensureStreams(fresh.manager, streamConfigs(fresh.names, options))).rejects.toThrow(
      /subjects overlap/,
    );
    await expect(fresh.manager.streams.info(`${namespace}_EVENTS`)).rejects.toThrow(/not found/);
  });

  it('updates DELIVERIES max age when the replay window changes, and leaves the others alone', async () => {
    const before = await streamsOf(client);

    await ensureStreams(
      client.manager,
      streamConfigs(client.names, { ...options, replayWindowMs: 7 * MINUTE }),
    );

    const after = await streamsOf(client);
    expect(after.deliveries.config.max_age).toBe(nanos(7 * MINUTE));
    expect(after.deliveries.created).toBe(before.deliveries.created);
    expect(after.events.config).toEqual(before.events.config);
    expect(after.dead.config).toEqual(before.dead.config);

    await ensureStreams(client.manager, streamConfigs(client.names, options));
    expect((await streamsOf(client)).deliveries.config.max_age).toBe(nanos(5 * MINUTE));
  });
});
