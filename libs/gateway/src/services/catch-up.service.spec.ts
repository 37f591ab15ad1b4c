import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';

import { type Delivery, PushType } from '@herald/contracts';
import { type DeliveryLog, type DeliverySubscriber, type StoredDelivery } from '@herald/messaging';

import { CATCH_UP_PAGE_SIZE, CatchUpService } from './catch-up.service';
import { type ConnectionRegistry } from './connection-registry.service';
import { type FanOutWriter } from './fan-out-writer';
import { type GroupKey } from './hub-identity';
import { syncVaultDelivery } from './sync-vault';
import { type WatermarkService } from './watermark.service';

const subjectOf = (kind: string, id: string) => `ns.deliver.${kind}.${id}`;

/** DELIVERIES in memory: a stream whose oldest messages may have aged out (`first`). */
class FakeLog implements DeliveryLog {
  readonly messages: StoredDelivery[] = [];
  first = 1;
  readonly reads: { subject: string; after: number; limit: number }[] = [];

  append(subject: string, count: number): void {
    for (let index = 0; index < count; index += 1) {
      const sequence = this.messages.length + 1;
      this.messages.push({ sequence, subject, data: new TextEncoder().encode(`${subject}#${sequence}`) });
    }
  }

  bounds(): Promise<{ first: number; last: number }> {
    return Promise.resolve({ first: this.first, last: this.messages.length });
  }

  private kept(subject: string): StoredDelivery[] {
    return this.messages.filter((message) => message.subject === subject && message.sequence >= this.first);
  }

  latestSequence(subject: string): Promise<number> {
    return Promise.resolve(this.kept(subject).at(-1)?.sequence ?? 0);
  }

  readAfter(subject: string, after: number, upTo: number, limit: number): Promise<StoredDelivery[]> {
    this.reads.push({ subject, after, limit });
    return Promise.resolve(
      this.kept(subject)
        .filter((message) => message.sequence > after && message.sequence <= upTo)
        .slice(0, limit),
    );
  }
}

interface FakeConnection {
  id: string;
  identity: { kind: 'user'; userId: string } | { kind: 'anonymous'; token: string };
}

/** The registry as catch-up sees it: groups, their members, and what was handed to them. */
class FakeRegistry {
  readonly delivered = new Map<string, string[]>();
  readonly written: { connection: string; delivery: Delivery }[] = [];

  constructor(private readonly members: Map<string, FakeConnection[]>) {}

  groupKeys(): GroupKey[] {
    return [...this.members.keys()].map((name) => {
      const [kind, id] = name.split(':') as [GroupKey['kind'], string];
      return { kind, id };
    });
  }

  membersOf(key: GroupKey): FakeConnection[] {
    return this.members.get(`${key.kind}:${key.id}`) ?? [];
  }

  deliverStored(key: GroupKey, data: Uint8Array): void {
    const name = `${key.kind}:${key.id}`;
    this.delivered.set(name, [...(this.delivered.get(name) ?? []), new TextDecoder().decode(data)]);
  }

  /** The fan-out writer's SyncVault, recorded here so the assertions read one list. */
  syncVault(connection: FakeConnection & { identity: { kind: 'user' } }, now: Date): boolean {
    this.written.push({
      connection: connection.id,
      delivery: syncVaultDelivery(connection.identity.userId, now),
    });
    return true;
  }
}

class FakeWatermark {
  paused = false;
  constructor(public current: number) {}
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

function setUp(members: Map<string, FakeConnection[]>, log: FakeLog, watermark: number) {
  const registry = new FakeRegistry(members);
  const mark = new FakeWatermark(watermark);
  let listener: ((state: 'lost' | 'restored') => void) | undefined;
  const subscriber = {
    subjectOf,
    onConnectionChange: (handler: (state: 'lost' | 'restored') => void) => {
      listener = handler;
      return () => (listener = undefined);
    },
  } as unknown as DeliverySubscriber;
  const metrics = new Registry();
  const service = new CatchUpService(
    registry as unknown as ConnectionRegistry,
    registry as unknown as FanOutWriter,
    mark as unknown as WatermarkService,
    log,
    subscriber,
    pino({ level: 'silent' }),
    metrics,
  );
  service.onApplicationBootstrap();
  const counter = async (name: string) =>
    (await metrics.getSingleMetric(name)!.get()).values.reduce((sum, value) => sum + value.value, 0);
  return { service, registry, mark, counter, change: (state: 'lost' | 'restored') => listener!(state) };
}

const user = (id: string): FakeConnection => ({ id, identity: { kind: 'user', userId: id } });

describe('CatchUpService', () => {
  it('reads a group gap past any fixed cap, page by page, up to the stream end', async () => {
    const log = new FakeLog();
    log.append(subjectOf('user', 'a'), 10);
    const gap = 2 * CATCH_UP_PAGE_SIZE + 10_000 + 7;
    log.append(subjectOf('user', 'a'), gap);
    const { service, registry, mark, counter } = setUp(new Map([['user:a', [user('a')]]]), log, 10);
    mark.pause();

    await service.catchUp();

    const delivered = registry.delivered.get('user:a')!;
    expect(delivered).toHaveLength(gap);
    expect(delivered[0]).toBe(`${subjectOf('user', 'a')}#11`);
    expect(delivered.at(-1)).toBe(`${subjectOf('user', 'a')}#${10 + gap}`);
    expect(new Set(delivered).size).toBe(gap);
    expect(log.reads).toHaveLength(Math.ceil(gap / CATCH_UP_PAGE_SIZE));
    expect(await counter('herald_gateway_caught_up_deliveries_total')).toBe(gap);
    expect(registry.written).toEqual([]);
    expect(mark.paused).toBe(false);
  });

  it('reads only groups with something newer than the watermark, and only after it', async () => {
    const log = new FakeLog();
    log.append(subjectOf('user', 'a'), 3);
    log.append(subjectOf('user', 'b'), 2);
    log.append(subjectOf('user', 'c'), 1);
    const members = new Map([
      ['user:a', [user('a')]],
      ['user:b', [user('b')]],
    ]);
    const { service, registry, counter } = setUp(members, log, 3);

    await service.catchUp();

    expect(registry.delivered.get('user:a')).toBeUndefined();
    expect(registry.delivered.get('user:b')).toEqual([
      `${subjectOf('user', 'b')}#4`,
      `${subjectOf('user', 'b')}#5`,
    ]);
    expect(log.reads.map((read) => read.subject)).toEqual([subjectOf('user', 'b')]);
    expect(await counter('herald_gateway_caught_up_deliveries_total')).toBe(2);
  });

  it('sends every device connection one SyncVault when part of the gap left the stream', async () => {
    const log = new FakeLog();
    log.append(subjectOf('user', 'a'), 5);
    log.append(subjectOf('org', 'o'), 5);
    log.append(subjectOf('user', 'a'), 2);
    // Sequences 6..8 aged out; the watermark is 5.
    log.first = 9;
    const [a, b] = [user('a'), user('b')];
    const anonymous: FakeConnection = { id: 'x', identity: { kind: 'anonymous', token: 't' } };
    const members = new Map([
      ['user:a', [a]],
      ['user:b', [b]],
      ['org:o', [a, b]],
      ['anon:t', [anonymous]],
    ]);
    const { service, registry, counter } = setUp(members, log, 5);

    await service.catchUp();

    // One SyncVault per user connection, also for a connection in two groups; none on the anonymous hub.
    expect(registry.written.map((entry) => entry.connection).sort()).toEqual(['a', 'b']);
    for (const { connection, delivery } of registry.written) {
      expect(delivery.message.Type).toBe(PushType.SyncVault);
      expect(delivery.message.Payload).toMatchObject({ UserId: connection });
    }
    expect(await counter('herald_gateway_catch_up_sync_vaults_total')).toBe(2);
    // What the stream still holds is delivered too (not every type is covered by a vault sync).
    expect(registry.delivered.get('org:o')).toEqual([
      `${subjectOf('org', 'o')}#9`,
      `${subjectOf('org', 'o')}#10`,
    ]);
    expect(registry.delivered.get('user:a')).toEqual([
      `${subjectOf('user', 'a')}#11`,
      `${subjectOf('user', 'a')}#12`,
    ]);
  });

  it('sends no SyncVault when the gap is whole, even if older deliveries aged out', async () => {
    const log = new FakeLog();
    log.append(subjectOf('user', 'a'), 8);
    log.first = 6;
    const { service, registry, counter } = setUp(new Map([['user:a', [user('a')]]]), log, 5);

    await service.catchUp();

    expect(registry.written).toEqual([]);
    expect(registry.delivered.get('user:a')).toHaveLength(3);
    expect(await counter('herald_gateway_catch_up_sync_vaults_total')).toBe(0);
  });

  it('keeps the watermark paused when the link was lost again during a catch-up', async () => {
    const log = new FakeLog();
    log.append(subjectOf('user', 'a'), 3);
    const { service, mark, change } = setUp(new Map([['user:a', [user('a')]]]), log, 1);
    change('lost');
    const running = service.catchUp();
    change('lost');
    await running;
    expect(mark.paused).toBe(true);

    // The newer outage's own catch-up resumes it.
    await service.catchUp();
    expect(mark.paused).toBe(false);
  });

  describe('when the log does not answer', () => {
    afterEach(() => {
      jest.useRealTimers();
    });

    it('keeps the watermark paused and retries until the gap is read', async () => {
      jest.useFakeTimers();
      const log = new FakeLog();
      log.append(subjectOf('user', 'a'), 4);
      let failures = 2;
      const bounds = log.bounds.bind(log);
      log.bounds = () => (failures-- > 0 ? Promise.reject(new Error('timeout')) : bounds());
      const { service, registry, mark, change } = setUp(new Map([['user:a', [user('a')]]]), log, 1);
      change('lost');

      await service.catchUp();
      expect(mark.paused).toBe(true);
      expect(registry.delivered.get('user:a')).toBeUndefined();

      await jest.advanceTimersByTimeAsync(1000); // second attempt fails too
      expect(mark.paused).toBe(true);
      await jest.advanceTimersByTimeAsync(2000); // third succeeds
      expect(registry.delivered.get('user:a')).toEqual(
        [2, 3, 4].map((n) => `${subjectOf('user', 'a')}#${n}`),
      );
      expect(mark.paused).toBe(false);
    });

    it('stops retrying when the link is lost again (the next restore catches up)', async () => {
      jest.useFakeTimers();
      const log = new FakeLog();
      log.append(subjectOf('user', 'a'), 2);
      let reads = 0;
      const bounds = log.bounds.bind(log);
      log.bounds = () => ((reads += 1), reads === 1 ? Promise.reject(new Error('timeout')) : bounds());
      const { service, registry, mark, change } = setUp(new Map([['user:a', [user('a')]]]), log, 1);
      change('lost');
      await service.catchUp();
      change('lost');
      await jest.advanceTimersByTimeAsync(60_000);
      expect(reads).toBe(1);
      expect(mark.paused).toBe(true);
      expect(registry.delivered.get('user:a')).toBeUndefined();
    });
  });
});
