import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { type ClusterSource, type GatewayBeat, type GatewayDirectory } from '@herald/messaging';

import { CLUSTER_VIEW_TTL_MS, ClusterStateService } from './cluster-state.service';

/** A directory and a dead-letter source that count what they are asked (each ask is a NATS request). */
function counted(options: { failLists?: number } = {}) {
  const asked = { lists: 0, deadLetters: 0 };
  let failLists = options.failLists ?? 0;
  const beat: GatewayBeat = {
    gatewayId: 'gateway-a',
    host: 'host-a',
    version: 'test',
    startedAt: 0,
    at: 0,
    connections: { hub: 2, 'anonymous-hub': 1 },
    users: 2,
    subscriptions: 3,
    deliveriesPerSecond: 0,
    bytesPerSecond: 0,
    slowClosed: 0,
    replays: 0,
    watermark: 0,
  };
  const directory: GatewayDirectory = {
    put: () => Promise.resolve(),
    get: () => Promise.resolve(undefined),
    list: () => {
      asked.lists += 1;
      if (failLists > 0) {
        failLists -= 1;
        return Promise.reject(new Error('stream info timed out'));
      }
      return Promise.resolve([{ ...beat, at: Date.now() }]);
    },
  };
  const source: ClusterSource = {
    follow: () => Promise.resolve(() => Promise.resolve()),
    deadLetters: () => {
      asked.deadLetters += 1;
      return Promise.resolve({ events: 3 });
    },
  };
  const service = new ClusterStateService(source, directory, pino({ level: 'silent' }));
  return { service, asked };
}

describe('ClusterStateService.info', () => {
  it('computes the cluster view once for concurrent callers', async () => {
    const { service, asked } = counted();
    const now = Date.now();
    const views = await Promise.all([service.info(now), service.info(now), service.info(now)]);
    expect(asked).toEqual({ lists: 1, deadLetters: 1 });
    expect(views[1]).toBe(views[0]);
    expect(views[0]).toMatchObject({ totals: { gateways: 1, connections: 3 }, deadLetters: { events: 3 } });
  });

  it(`keeps the view for ${CLUSTER_VIEW_TTL_MS} ms, then reads the cluster again`, async () => {
    const { service, asked } = counted();
    const now = Date.now();
    const first = await service.info(now);
    expect(await service.info(now + CLUSTER_VIEW_TTL_MS - 1)).toBe(first);
    expect(asked.lists).toBe(1);
    const next = await service.info(now + CLUSTER_VIEW_TTL_MS);
    expect(next).not.toBe(first);
    expect(asked).toEqual({ lists: 2, deadLetters: 2 });
  });

  it('does not keep a failed reading: the next caller tries again', async () => {
    const { service, asked } = counted({ failLists: 1 });
    const now = Date.now();
    await expect(service.info(now)).rejects.toThrow(/timed out/);
    await expect(service.info(now)).resolves.toMatchObject({ totals: { gateways: 1 } });
    expect(asked.lists).toBe(2);
  });
});

describe('ClusterStateService bridges', () => {
  it('lists the bridges that beat within 15 s, and forgets the others', async () => {
    const { service } = counted();
    const now = Date.now();
    const beat = {
      source: 'vaultwarden',
      host: 'host-c',
      version: 'test',
      startedAt: now - 60_000,
      leader: true,
      pending: 1,
      lagSeconds: 0.2,
      published: 7,
    };
    service.record({ kind: 'bridge', beat: { ...beat, bridgeId: 'vw-live', at: now - 1000 } });
    service.record({
      kind: 'bridge',
      beat: { ...beat, bridgeId: 'vw-gone', leader: false, at: now - 20_000 },
    });
    const info = await service.info(now);
    expect(info.bridges).toEqual([
      expect.objectContaining({
        id: 'vw-live',
        source: 'vaultwarden',
        leader: true,
        pending: 1,
        published: 7,
      }),
    ]);
  });
});
