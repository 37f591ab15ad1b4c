import { Inject, Injectable } from '@nestjs/common';

import { ClientType, type Delivery, deliveryCodec, HubName } from '@herald/contracts';
import {
  CONTROL_BUS,
  type ControlBus,
  DELIVERY_LOG,
  DELIVERY_SUBSCRIBER,
  type DeliveryLog,
  type DeliverySubscriber,
  GATEWAY_DIRECTORY,
  type GatewayDirectory,
  PRESENCE_STORE,
  type PresenceRecord,
  type PresenceStore,
} from '@herald/messaging';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { type GroupKey, type HubIdentity } from './hub-identity';

/** How long to wait for a close record that is being written (20 × 50 ms). */
const CLOSE_RECORD_ATTEMPTS = 20;
const CLOSE_RECORD_POLL_MS = 50;

/** Deliveries read per request while looking for a reconnecting device's own. */
export const REPLAY_PAGE_SIZE = 500;

/** What a reconnecting device gets before live traffic. */
export type ReplayPlan =
  | { kind: 'none'; reason: 'no-device' | 'unknown-device' | 'nothing-missed' }
  | { kind: 'deliveries'; deliveries: Delivery[]; from: number; upTo: number }
  | { kind: 'sync-vault'; reason: 'too-many' | 'window-passed'; missed: number };

/**
 * Decides what a reconnecting device missed: from where its previous connection stopped (the
 * presence record, or its dead gateway's last beat) up to the moment its new subscriptions went
 * live, for every group it belongs to, in stream order. Cheap when nothing was missed: one request
 * per group asks for the newest sequence on its subject before anything is read.
 */
@Injectable()
export class ReplayService {
  constructor(
    @Inject(DELIVERY_LOG) private readonly log: DeliveryLog,
    @Inject(DELIVERY_SUBSCRIBER) private readonly subscriber: DeliverySubscriber,
    @Inject(GATEWAY_DIRECTORY) private readonly directory: GatewayDirectory,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(CONTROL_BUS) private readonly control: ControlBus,
    @Inject(PRESENCE_STORE) private readonly presence: PresenceStore,
  ) {}

  /**
   * Where the device's previous connection stopped, or undefined when nothing is known of it.
   * A record still saying `connected` is checked with the gateway that holds it: an open (often
   * half-dead) connection reports its own resume point; a closed one has its close record on the
   * way; a gateway that does not answer is gone, and its last beat bounds what it handed out.
   */
  async resumePoint(
    userId: string,
    device: string,
    record: PresenceRecord | undefined,
  ): Promise<number | undefined> {
    if (!record) return undefined;
    if (record.state === 'disconnected') return record.resumeSequence;
    const status = await this.control.queryConnection(record.gatewayId, record.connectionId);
    if (status?.state === 'open') return status.resumeSequence;
    if (status?.state === 'closed') {
      const closed = await this.awaitClose(userId, device, record.connectionId);
      return closed ?? record.sinceSequence;
    }
    const beat = await this.directory.get(record.gatewayId);
    return Math.max(record.sinceSequence, beat?.watermark ?? 0);
  }

  /** The close record of a connection whose gateway already forgot it is being written: wait for it briefly. */
  private async awaitClose(
    userId: string,
    device: string,
    connectionId: string,
  ): Promise<number | undefined> {
    for (let attempt = 0; attempt < CLOSE_RECORD_ATTEMPTS; attempt += 1) {
      const record = await this.presence.get(userId, device);
      if (record?.state === 'disconnected' && record.connectionId === connectionId)
        return record.resumeSequence;
      if (record && record.connectionId !== connectionId) return undefined;
      await new Promise((resolve) => setTimeout(resolve, CLOSE_RECORD_POLL_MS));
    }
    return undefined;
  }

  async plan(
    identity: HubIdentity,
    groups: GroupKey[],
    resumeFrom: number | undefined,
    upTo: number,
  ): Promise<ReplayPlan> {
    if (resumeFrom === undefined) return { kind: 'none', reason: 'unknown-device' };
    if (resumeFrom >= upTo) return { kind: 'none', reason: 'nothing-missed' };
    const subjects = groups.map((group) => this.subscriber.subjectOf(group.kind, group.id));
    const latest = await Promise.all(subjects.map((subject) => this.log.latestSequence(subject)));
    const behind = subjects.filter((_subject, index) => (latest[index] ?? 0) > resumeFrom);
    if (behind.length === 0) return { kind: 'none', reason: 'nothing-missed' };
    const { first, last } = await this.log.bounds();
    // Read to the stream's end as of now, not only to where the subscriptions went live: JetStream
    // stores a message a moment after routing it, so one routed just before the subscription but
    // stored after that moment's `bounds()` would be in neither the live traffic nor the backlog.
    // What is read twice this way is also in the held live traffic, and dropped from it.
    const readUpTo = Math.max(upTo, last);
    if (resumeFrom + 1 < first) {
      // Part of the gap has already left the replay window: only a full sync is safe.
      return { kind: 'sync-vault', reason: 'window-passed', missed: upTo - resumeFrom };
    }
    const max = this.config.HERALD_REPLAY_MAX_MESSAGES;
    // Filter before counting: deliveries for other client types share the group's subject, and a
    // limit applied to the raw read would let them hide the device's own (a silent gap).
    const stored = (
      await Promise.all(
        behind.map((subject) => this.readRelevant(subject, identity, resumeFrom, readUpTo, max + 1)),
      )
    ).flat();
    stored.sort((left, right) => left.sequence - right.sequence);
    const deliveries: Delivery[] = [];
    const seen = new Set<string>();
    for (const { delivery } of stored) {
      if (seen.has(delivery.eventId)) continue;
      seen.add(delivery.eventId);
      deliveries.push(delivery);
    }
    if (deliveries.length > max) return { kind: 'sync-vault', reason: 'too-many', missed: deliveries.length };
    // Stored order follows whichever dispatcher finished first; events were accepted in this order.
    deliveries.sort((left, right) => left.eventSequence - right.eventSequence);
    return { kind: 'deliveries', deliveries, from: resumeFrom, upTo: readUpTo };
  }

  /**
   * The deliveries on `subject` after `after` up to `upTo` that are meant for this device, page
   * by page, until `wanted` distinct events are found or the range is read. Finding `wanted` on
   * one subject is enough to know the whole backlog is too long.
   */
  private async readRelevant(
    subject: string,
    identity: HubIdentity,
    after: number,
    upTo: number,
    wanted: number,
  ): Promise<{ sequence: number; delivery: Delivery }[]> {
    const relevant: { sequence: number; delivery: Delivery }[] = [];
    const events = new Set<string>();
    let from = after;
    for (;;) {
      const page = await this.log.readAfter(subject, from, upTo, REPLAY_PAGE_SIZE);
      for (const item of page) {
        const delivery = decodeOrUndefined(item.data);
        if (!delivery || !isFor(identity, delivery)) continue;
        relevant.push({ sequence: item.sequence, delivery });
        events.add(delivery.eventId);
        if (events.size >= wanted) return relevant;
      }
      const last = page.at(-1);
      if (page.length < REPLAY_PAGE_SIZE || last === undefined) return relevant;
      from = last.sequence;
    }
  }
}

/** A `/hub` delivery for every client type or for the device's own. */
function isFor(identity: HubIdentity, delivery: Delivery): boolean {
  if (delivery.hub !== HubName.Main) return false;
  return delivery.clientType === ClientType.All || delivery.clientType === identity.clientType;
}

function decodeOrUndefined(data: Uint8Array): Delivery | undefined {
  try {
    return deliveryCodec.decode(data);
  } catch {
    return undefined;
  }
}
