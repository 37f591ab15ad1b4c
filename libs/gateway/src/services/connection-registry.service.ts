import { Inject, Injectable } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';

import { type DeliveryKind } from '@herald/contracts';
import { DELIVERY_SUBSCRIBER, type DeliverySubscriber, type Unsubscribe } from '@herald/messaging';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { DeliveryIntake, type DeliveryTarget } from './delivery-intake';
import { FanOutWriter } from './fan-out-writer';
import { type GatewayConnection } from './gateway-connection';
import { type GroupKey } from './hub-identity';
import { RECENT_EVENTS_PER_GROUP, RecentEvents } from './recent-events';

interface Group extends DeliveryTarget {
  readonly key: GroupKey;
  readonly members: Set<GatewayConnection>;
  /** Resolves once the broker registered this gateway's interest in the group's subject. */
  subscribed: Promise<void>;
  unsubscribe?: Unsubscribe;
  released: boolean;
}

/**
 * This gateway's groups -> local connections, and the subscription of each. Interest-based: the
 * gateway subscribes to a group's delivery subject when the group's first local member arrives
 * and unsubscribes when the last one leaves, so it only receives traffic it can deliver. What
 * arrives goes to the delivery intake with the group it is for.
 */
@Injectable()
export class ConnectionRegistry {
  private readonly groups = new Map<string, Group>();

  constructor(
    @Inject(DELIVERY_SUBSCRIBER) private readonly subscriber: DeliverySubscriber,
    private readonly intake: DeliveryIntake,
    private readonly writer: FanOutWriter,
    @Inject(GATEWAY_CONFIG) private readonly config: Pick<GatewayConfig, 'HERALD_REPLAY_WINDOW'>,
    registry: Registry,
  ) {
    const subscribedGroups: Gauge = new Gauge({
      name: 'herald_gateway_subscribed_groups',
      help: 'Delivery subjects this gateway is subscribed to',
      registers: [registry],
      collect: () => subscribedGroups.set(this.groups.size),
    });
  }

  /** Adds the connection to its groups; resolves when every group's subscription is live. */
  async join(connection: GatewayConnection, keys: GroupKey[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const key of keys) {
      const name = groupName(key);
      let group = this.groups.get(name);
      if (!group) {
        group = this.openGroup(key, name);
        this.groups.set(name, group);
      }
      group.members.add(connection);
      waits.push(group.subscribed);
    }
    await Promise.all(waits);
  }

  leave(connection: GatewayConnection, keys: GroupKey[]): void {
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
    return { deliveries: this.intake.received, bytes: this.writer.bytesWritten };
  }

  /** Every group this gateway holds. */
  groupKeys(): GroupKey[] {
    return [...this.groups.values()].map((group) => group.key);
  }

  /** Delivers a delivery read back from the log to a group, as if it had arrived live (duplicates dropped). */
  deliverStored(key: GroupKey, data: Uint8Array): void {
    const group = this.groups.get(groupName(key));
    if (group) this.intake.receive(group, data);
  }

  /** Connections of one group on this gateway (e.g. every connection of a user). */
  membersOf(key: GroupKey): GatewayConnection[] {
    return [...(this.groups.get(groupName(key))?.members ?? [])];
  }

  private openGroup(key: GroupKey, name: string): Group {
    const group: Group = {
      key,
      name,
      members: new Set(),
      // Ids are remembered while DELIVERIES can hand the same delivery back (a catch-up read).
      recent: new RecentEvents(RECENT_EVENTS_PER_GROUP, this.config.HERALD_REPLAY_WINDOW),
      released: false,
      subscribed: Promise.resolve(),
    };
    group.subscribed = this.subscriber
      .subscribe(key.kind, key.id, (data, _subject, traceparent) =>
        this.intake.receive(group, data, traceparent),
      )
      .then(
        (unsubscribe) => {
          group.unsubscribe = unsubscribe;
          // The last member left while the subscription was being set up.
          if (group.released) unsubscribe();
        },
        (error: unknown) => {
          // Forget the group so that the next connection tries again; its members are refused.
          if (this.groups.get(name) === group) this.groups.delete(name);
          group.released = true;
          throw error;
        },
      );
    return group;
  }
}

export function groupName(key: { kind: DeliveryKind; id: string }): string {
  return `${key.kind}:${key.id}`;
}
