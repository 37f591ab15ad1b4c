import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';

import {
  type BridgeHeartbeat,
  type GatewayHeartbeat,
  type Heartbeat,
  type PushWorkerHeartbeat,
} from '@herald/contracts';
import {
  CLUSTER_SOURCE,
  type ClusterSource,
  type DeadLetterSource,
  GATEWAY_DIRECTORY,
  type GatewayDirectory,
} from '@herald/messaging';
import { InjectLogger, type Logger } from '@herald/platform';

export interface ClusterInfo {
  generatedAt: string;
  gateways: (Omit<GatewayHeartbeat, 'startedAt' | 'at' | 'gatewayId'> & {
    id: string;
    startedAt: string;
    lastBeatAt: string;
  })[];
  totals: {
    gateways: number;
    connections: number;
    hubConnections: number;
    anonymousConnections: number;
    users: number;
    deliveriesPerSecond: number;
  };
  push: Record<string, Record<string, number>>;
  /** Live event source bridges (the Vaultwarden bridge), by id; absent from older services. */
  bridges?: (Omit<BridgeHeartbeat, 'startedAt' | 'at' | 'bridgeId'> & {
    id: string;
    startedAt: string;
    lastBeatAt: string;
  })[];
  deadLetters: Partial<Record<DeadLetterSource, number>>;
}

export interface HistoryPoint {
  at: number;
  connections: number;
  perGateway: Record<string, number>;
  deliveriesPerSecond: number;
}

/** How long one reading of the cluster answers `/info` (and the gauges) before it is read again. */
export const CLUSTER_VIEW_TTL_MS = 1000;

const RESOLUTION_MS = 5000;
const HISTORY_MS = 3_600_000;
/** A beater is gone after three missed 5-second beats. */
const GONE_AFTER_MS = 15_000;

/**
 * The cluster as the heartbeats describe it. Live gateways come from the `gateways` bucket (an
 * entry expires 15 s after its gateway's last beat); history and push workers come from the
 * HEARTBEATS stream, which every replica reads from its start, so all replicas answer alike.
 */
@Injectable()
export class ClusterStateService implements OnApplicationBootstrap, OnModuleDestroy {
  /** bucket index -> gateway id -> what it reported in that bucket */
  private readonly buckets = new Map<
    number,
    Map<string, { connections: number; deliveriesPerSecond: number }>
  >();
  private readonly pushWorkers = new Map<string, PushWorkerHeartbeat>();
  private readonly bridges = new Map<string, BridgeHeartbeat>();
  /** The last reading of the cluster, shared by every caller within CLUSTER_VIEW_TTL_MS. */
  private view: { at: number; info: Promise<ClusterInfo> } | undefined;
  private stop: (() => Promise<void>) | undefined;

  constructor(
    @Inject(CLUSTER_SOURCE) private readonly source: ClusterSource,
    @Inject(GATEWAY_DIRECTORY) private readonly directory: GatewayDirectory,
    @InjectLogger('ClusterStateService') private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.stop = await this.source.follow((heartbeat) => this.record(heartbeat));
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop?.();
  }

  /** One beat, decoded and validated by the contracts' heartbeat codec. */
  record(heartbeat: Heartbeat): void {
    if (heartbeat.kind === 'push-worker') {
      this.pushWorkers.set(heartbeat.beat.workerId, heartbeat.beat);
      return;
    }
    if (heartbeat.kind === 'bridge') {
      this.bridges.set(heartbeat.beat.bridgeId, heartbeat.beat);
      return;
    }
    const beat = heartbeat.beat;
    const index = Math.floor(beat.at / RESOLUTION_MS);
    let bucket = this.buckets.get(index);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(index, bucket);
      this.prune(index);
    }
    bucket.set(beat.gatewayId, {
      connections: (beat.connections.hub ?? 0) + (beat.connections['anonymous-hub'] ?? 0),
      deliveriesPerSecond: beat.deliveriesPerSecond ?? 0,
    });
  }

  /**
   * The cluster as of at most CLUSTER_VIEW_TTL_MS ago. Reading it costs NATS requests (a key
   * listing of the gateways bucket, a stream info of DEAD), so callers within that time, and
   * concurrent ones, share one reading; a failed reading is not kept.
   */
  info(now = Date.now()): Promise<ClusterInfo> {
    const view = this.view;
    if (view && now >= view.at && now - view.at < CLUSTER_VIEW_TTL_MS) return view.info;
    const fresh = { at: now, info: this.read(now) };
    this.view = fresh;
    fresh.info.catch(() => {
      if (this.view === fresh) this.view = undefined;
    });
    return fresh.info;
  }

  private async read(now: number): Promise<ClusterInfo> {
    const beats = (await this.directory.list()).filter((beat) => now - beat.at < GONE_AFTER_MS);
    beats.sort((left, right) => left.gatewayId.localeCompare(right.gatewayId));
    const gateways = beats.map(({ gatewayId, startedAt, at, ...rest }) => ({
      ...rest,
      id: gatewayId,
      startedAt: new Date(startedAt).toISOString(),
      lastBeatAt: new Date(at).toISOString(),
    }));
    const sum = (pick: (beat: GatewayHeartbeat) => number) =>
      beats.reduce((total, beat) => total + pick(beat), 0);
    const push: Record<string, Record<string, number>> = {};
    for (const worker of this.pushWorkers.values()) {
      if (now - worker.at >= GONE_AFTER_MS) continue;
      for (const [provider, outcomes] of Object.entries(worker.sends)) {
        const target = (push[provider] ??= {});
        for (const [outcome, count] of Object.entries(outcomes))
          target[outcome] = (target[outcome] ?? 0) + count;
      }
    }
    const bridges: ClusterInfo['bridges'] = [];
    for (const [id, beat] of [...this.bridges].sort(([left], [right]) => left.localeCompare(right))) {
      if (now - beat.at >= GONE_AFTER_MS) {
        this.bridges.delete(id);
        continue;
      }
      const { bridgeId: _id, startedAt, at, ...rest } = beat;
      bridges.push({
        ...rest,
        id,
        startedAt: new Date(startedAt).toISOString(),
        lastBeatAt: new Date(at).toISOString(),
      });
    }
    let deadLetters: ClusterInfo['deadLetters'] = {};
    try {
      deadLetters = await this.source.deadLetters();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not count dead letters');
    }
    return {
      generatedAt: new Date(now).toISOString(),
      gateways,
      totals: {
        gateways: beats.length,
        connections: sum((beat) => beat.connections.hub + beat.connections['anonymous-hub']),
        hubConnections: sum((beat) => beat.connections.hub),
        anonymousConnections: sum((beat) => beat.connections['anonymous-hub']),
        users: sum((beat) => beat.users),
        deliveriesPerSecond: Math.round(sum((beat) => beat.deliveriesPerSecond) * 100) / 100,
      },
      push,
      bridges,
      deadLetters,
    };
  }

  /** One point per 5 s over the last `minutes`; a gateway counts until three beats are missed. */
  history(minutes: number, now = Date.now()): { resolutionSeconds: number; points: HistoryPoint[] } {
    const last = Math.floor(now / RESOLUTION_MS);
    const first = last - Math.ceil((Math.min(60, Math.max(1, minutes)) * 60_000) / RESOLUTION_MS) + 1;
    const carried = new Map<string, { index: number; connections: number; deliveriesPerSecond: number }>();
    for (let index = first - 3; index < first; index += 1) {
      for (const [id, value] of this.buckets.get(index) ?? []) carried.set(id, { index, ...value });
    }
    const points: HistoryPoint[] = [];
    for (let index = first; index <= last; index += 1) {
      for (const [id, value] of this.buckets.get(index) ?? []) carried.set(id, { index, ...value });
      const perGateway: Record<string, number> = {};
      let connections = 0;
      let deliveriesPerSecond = 0;
      for (const [id, value] of carried) {
        if (index - value.index >= GONE_AFTER_MS / RESOLUTION_MS) continue;
        perGateway[id] = value.connections;
        connections += value.connections;
        deliveriesPerSecond += value.deliveriesPerSecond;
      }
      if (Object.keys(perGateway).length > 0) {
        points.push({
          at: index * RESOLUTION_MS,
          connections,
          perGateway,
          deliveriesPerSecond: Math.round(deliveriesPerSecond * 100) / 100,
        });
      }
    }
    return { resolutionSeconds: RESOLUTION_MS / 1000, points };
  }

  private prune(newest: number): void {
    const oldest = newest - HISTORY_MS / RESOLUTION_MS;
    for (const index of this.buckets.keys()) if (index < oldest) this.buckets.delete(index);
  }
}
