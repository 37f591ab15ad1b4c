import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import {
  ClientType,
  type Delivery,
  deliveryCodec,
  HubName,
  type DeliveryKind,
  traceIdOf,
} from '@herald/contracts';
import { DELIVERY_SUBSCRIBER, type DeliverySubscriber, type Unsubscribe } from '@herald/messaging';
import { type HubConnection, type HubProtocol, MessageType } from '@herald/signalr';
import { InjectLogger, type Logger } from '@herald/platform';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { type ConnectionIdentity, type GroupKey } from './hub-identity';

type Connection = HubConnection<ConnectionIdentity>;

/** Event ids a group remembers, to drop a delivery that arrives twice (a redelivered event). */
const RECENT_EVENTS_PER_GROUP = 1024;

interface Group {
  key: GroupKey;
  members: Set<Connection>;
  recent: Set<string>;
  /** Resolves once the broker registered this gateway's interest in the group's subject. */
  subscribed: Promise<void>;
  unsubscribe?: Unsubscribe;
  released: boolean;
}

/**
 * This gateway's groups -> local connections. Interest-based: the gateway subscribes to a group's
 * delivery subject when the group's first local member arrives and unsubscribes when the last one
 * leaves, so it only receives traffic it can deliver.
 */
@Injectable()
export class ConnectionRegistry {
  private readonly groups = new Map<string, Group>();
  /** Connections whose replay runs: live deliveries wait here, in order, until it ends. */
  private readonly held = new Map<Connection, Delivery[] | 'overflow'>();
  private readonly deliveries: Counter<'hub'>;
  private readonly writes: Counter<'hub'>;
  private readonly invalid: Counter;
  private readonly duplicates: Counter;
  private readonly subscribedGroups: Gauge;
  private readonly now = () => performance.now();
  private readonly latency: Histogram;
  private received = 0;
  private bytes = 0;

  constructor(
    @Inject(DELIVERY_SUBSCRIBER) private readonly subscriber: DeliverySubscriber,
    @InjectLogger('ConnectionRegistry') private readonly logger: Logger,
    @Inject(GATEWAY_CONFIG) private readonly config: Pick<GatewayConfig, 'HERALD_REPLAY_MAX_HELD'>,
    registry: Registry,
  ) {
    this.deliveries = new Counter({
      name: 'herald_gateway_deliveries_received_total',
      help: 'Deliveries received from NATS for groups this gateway holds',
      labelNames: ['hub'],
      registers: [registry],
    });
    this.writes = new Counter({
      name: 'herald_gateway_messages_written_total',
      help: 'Notification messages written to client sockets',
      labelNames: ['hub'],
      registers: [registry],
    });
    this.invalid = new Counter({
      name: 'herald_gateway_deliveries_invalid_total',
      help: 'Deliveries that could not be decoded and were dropped',
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'herald_gateway_delivery_latency_seconds',
      help: 'From the event being accepted (/send or publisher) to its socket writes on this gateway',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.duplicates = new Counter({
      name: 'herald_gateway_deliveries_duplicate_total',
      help: 'Deliveries dropped because their group had already received the same event',
      registers: [registry],
    });
    this.subscribedGroups = new Gauge({
      name: 'herald_gateway_subscribed_groups',
      help: 'Delivery subjects this gateway is subscribed to',
      registers: [registry],
      collect: () => this.subscribedGroups.set(this.groups.size),
    });
  }

  /** Adds the connection to its groups; resolves when every group's subscription is live. */
  async join(connection: Connection, keys: GroupKey[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const key of keys) {
      const name = groupName(key);
      let group = this.groups.get(name);
      if (!group) {
        group = this.openGroup(key);
        this.groups.set(name, group);
      }
      group.members.add(connection);
      waits.push(group.subscribed);
    }
    await Promise.all(waits);
  }

  leave(connection: Connection, keys: GroupKey[]): void {
    this.held.delete(connection);
    for (const key of keys) {
      const name = groupName(key);
      const group = this.groups.get(name);
      if (!group) continue;
      group.members.delete(connection);
      if (group.members.size === 0) {
        this.groups.delete(name);
        group.released = true;
        group.unsubscribe?.();
      }
    }
  }

  get groupCount(): number {
    return this.groups.size;
  }

  /** Distinct users with a connection on this gateway. */
  get userCount(): number {
    let count = 0;
    for (const group of this.groups.values()) if (group.key.kind === 'user') count += 1;
    return count;
  }

  /** Deliveries received for held groups and bytes written to sockets since start (for rates). */
  get totals(): { deliveries: number; bytes: number } {
    return { deliveries: this.received, bytes: this.bytes };
  }

  private openGroup(key: GroupKey): Group {
    const group: Group = {
      key,
      members: new Set(),
      recent: new Set(),
      released: false,
      subscribed: Promise.resolve(),
    };
    group.subscribed = this.subscriber
      .subscribe(key.kind, key.id, (data, _subject, traceparent) => this.deliver(group, data, traceparent))
      .then(
        (unsubscribe) => {
          group.unsubscribe = unsubscribe;
          // The last member left while the subscription was being set up.
          if (group.released) unsubscribe();
        },
        (error: unknown) => {
          // Forget the group so that the next connection tries again; its members are refused.
          if (this.groups.get(groupName(key)) === group) this.groups.delete(groupName(key));
          group.released = true;
          throw error;
        },
      );
    return group;
  }

  /** Every group this gateway holds. */
  groupKeys(): GroupKey[] {
    return [...this.groups.values()].map((group) => group.key);
  }

  /** Delivers a delivery read back from the log to a group, as if it had arrived live (duplicates dropped). */
  deliverStored(key: GroupKey, data: Uint8Array): void {
    const group = this.groups.get(groupName(key));
    if (group) this.deliver(group, data);
  }

  /** Connections of one group on this gateway (e.g. every connection of a user). */
  membersOf(key: GroupKey): Connection[] {
    return [...(this.groups.get(groupName(key))?.members ?? [])];
  }

  /** From now on, live deliveries for this connection are held until `endReplay`. */
  beginReplay(connection: Connection): void {
    this.held.set(connection, []);
  }

  /**
   * Writes what was held during the replay, except events the replay already sent, and switches
   * the connection to live traffic. Returns false when too much was held (the caller then sends
   * a SyncVault instead).
   */
  endReplay(connection: Connection, alreadySent: ReadonlySet<string>): boolean {
    const held = this.held.get(connection);
    this.held.delete(connection);
    if (held === 'overflow') return false;
    for (const delivery of held ?? []) {
      if (!alreadySent.has(delivery.eventId)) this.write(connection, delivery, new Map());
    }
    return true;
  }

  /** Writes one delivery to one connection (replay and held traffic). */
  write(connection: Connection, delivery: Delivery, encoded: Map<HubProtocol['name'], Buffer>): boolean {
    const protocol = connection.protocol;
    if (!protocol) return false;
    let frame = encoded.get(protocol.name);
    if (!frame) {
      frame = protocol.writeMessage({
        type: MessageType.Invocation,
        target: delivery.method,
        arguments: [delivery.message],
      });
      encoded.set(protocol.name, frame);
    }
    const written = connection.sendEncoded(frame, this.now());
    if (written) {
      this.writes.inc({ hub: delivery.hub });
      this.bytes += frame.length;
    }
    return written;
  }

  /** Fan-out: decode once, encode once per hub protocol, write the same bytes to every target. */
  private deliver(group: Group, data: Uint8Array, traceparent?: string): void {
    let delivery: Delivery;
    try {
      delivery = deliveryCodec.decode(data);
    } catch (error) {
      this.invalid.inc();
      this.logger.error({ err: error, group: groupName(group.key) }, 'dropped an undecodable delivery');
      return;
    }
    this.deliveries.inc({ hub: delivery.hub });
    this.received += 1;
    if (group.recent.has(delivery.eventId)) {
      this.duplicates.inc();
      return;
    }
    group.recent.add(delivery.eventId);
    if (group.recent.size > RECENT_EVENTS_PER_GROUP) {
      group.recent.delete(group.recent.values().next().value!);
    }
    // From the event's acceptance to its socket writes, once per delivery.
    this.latency.observe(Math.max(0, Date.now() - delivery.acceptedAt) / 1000);
    const encoded = new Map<HubProtocol['name'], Buffer>();
    for (const connection of group.members) {
      if (!accepts(connection, delivery)) continue;
      const held = this.held.get(connection);
      if (held === undefined) {
        this.write(connection, delivery, encoded);
      } else if (held !== 'overflow') {
        // Past the bound the connection is told to sync (see `endReplay`) instead of growing without end.
        if (held.length >= this.config.HERALD_REPLAY_MAX_HELD) this.held.set(connection, 'overflow');
        else held.push(delivery);
      }
    }
    if (traceparent && this.logger.isLevelEnabled('debug')) {
      this.logger.debug(
        {
          traceId: traceIdOf(traceparent),
          eventId: delivery.eventId,
          group: groupName(group.key),
          members: group.members.size,
        },
        'delivery written to sockets',
      );
    }
  }
}

function accepts(connection: Connection, delivery: Delivery): boolean {
  const identity = connection.identity;
  const hub = identity.kind === 'anonymous' ? HubName.Anonymous : HubName.Main;
  if (delivery.hub !== hub) return false;
  return delivery.clientType === ClientType.All || delivery.clientType === identity.clientType;
}

export function groupName(key: { kind: DeliveryKind; id: string }): string {
  return `${key.kind}:${key.id}`;
}
