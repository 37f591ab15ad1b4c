import { type Logger } from 'pino';

import { natsNames, type NatsNames } from '@herald/contracts';

import { type BrokerLimits, DEFAULT_BROKER_LIMITS } from '../ports';
import { type Clock, systemClock } from './clock';
import { MemoryDurableConsumer, type DurableSpec } from './memory-consumer';
import { MemoryKv } from './memory-kv';
import { MemoryStream } from './memory-stream';

export interface MemoryBrokerOptions {
  /** Prefix of every subject (the same names as on NATS), default `herald`. */
  namespace?: string;
  limits?: Partial<BrokerLimits>;
  /** Most messages each stream keeps (oldest dropped first), default 100 000. */
  maxMessagesPerStream?: number;
  /** Ages and TTLs are read from this clock (default: the system's). */
  clock?: Clock;
  logger?: Logger;
}

const DUPLICATE_WINDOW_MS = 2 * 60_000;
const HOUR = 3_600_000;

/** The state every memory port shares: streams, buckets, durable consumers, the link. */
export class MemoryCore {
  readonly names: NatsNames;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  readonly limits: BrokerLimits;
  readonly streams: Record<'events' | 'deliveries' | 'push' | 'dead' | 'heartbeats', MemoryStream>;
  readonly buckets: Record<'presence' | 'gateways', MemoryKv>;
  private readonly durables = new Map<string, MemoryDurableConsumer>();
  private linkUp = true;
  private readonly linkListeners = new Set<(state: 'lost' | 'restored') => void>();

  constructor(options: MemoryBrokerOptions = {}) {
    this.names = natsNames(options.namespace ?? 'herald');
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.limits = { ...DEFAULT_BROKER_LIMITS, ...options.limits };
    const maxMessages = options.maxMessagesPerStream ?? 100_000;
    const { replayWindowMs, eventsMaxAgeMs, gatewaysTtlMs } = this.limits;
    const stream = (name: string, maxAgeMs: number, duplicateWindowMs: number) =>
      new MemoryStream(name, { maxAgeMs, maxMessages, duplicateWindowMs }, this.clock);
    const { streams, buckets } = this.names;
    this.streams = {
      events: stream(streams.events, eventsMaxAgeMs, DUPLICATE_WINDOW_MS),
      deliveries: stream(streams.deliveries, replayWindowMs, Math.min(DUPLICATE_WINDOW_MS, replayWindowMs)),
      push: stream(streams.push, eventsMaxAgeMs, DUPLICATE_WINDOW_MS),
      dead: stream(streams.dead, 14 * 24 * HOUR, 0),
      heartbeats: stream(streams.heartbeats, HOUR, 0),
    };
    this.buckets = {
      presence: new MemoryKv(buckets.presence, replayWindowMs, this.clock),
      gateways: new MemoryKv(buckets.gateways, gatewaysTtlMs, this.clock),
    };
  }

  /** The one durable consumer of this name, created on first use (as `ensureConsumer` does). */
  durable(name: string, spec: () => DurableSpec): MemoryDurableConsumer {
    let durable = this.durables.get(name);
    if (!durable) {
      durable = new MemoryDurableConsumer(spec(), this.logger);
      this.durables.set(name, durable);
    }
    return durable;
  }

  get connected(): boolean {
    return this.linkUp;
  }

  /** Simulates losing and regaining the broker: live deliveries sent meanwhile never arrive. */
  setLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    for (const listener of [...this.linkListeners]) listener(up ? 'restored' : 'lost');
  }

  onLinkChange(listener: (state: 'lost' | 'restored') => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  close(): void {
    for (const durable of this.durables.values()) durable.close();
  }
}
