import { type Delivery, type DeliveryKind, deliveryCodec } from '@herald/contracts';

import {
  type DeliveryLog,
  type DeliveryPublisher,
  type DeliverySubscriber,
  type StoredDelivery,
  type Unsubscribe,
} from '../ports';
import { type MemoryCore } from './memory-core';
import { traceHeaders } from './memory-headers';

type LiveHandler = (data: Uint8Array, subject: string, traceparent?: string) => void;

/**
 * Deliveries stored in DELIVERIES and handed to live subscribers of their subject. Live handlers
 * run before `publish` resolves, so `flush` has nothing left to wait for. As on NATS, a
 * republished delivery is stored once but still reaches live subscribers.
 */
export class MemoryDeliveries implements DeliveryPublisher, DeliverySubscriber {
  private readonly live = new Map<string, Set<LiveHandler>>();

  constructor(private readonly core: MemoryCore) {}

  publish(kind: DeliveryKind, id: string, delivery: Delivery, traceparent?: string): Promise<void> {
    const subject = this.subjectOf(kind, id);
    const data = deliveryCodec.encode(delivery);
    this.core.streams.deliveries.append(subject, data, {
      msgId: `${delivery.eventId}:${kind}:${id}:${delivery.clientType}`,
      headers: traceHeaders(traceparent),
    });
    if (this.core.connected) {
      for (const handler of [...(this.live.get(subject) ?? [])]) {
        try {
          handler(data, subject, traceparent);
        } catch (error) {
          this.core.logger?.error({ err: error, subject }, 'delivery handler failed');
        }
      }
    }
    return Promise.resolve();
  }

  subscribe(kind: DeliveryKind, id: string, handler: LiveHandler): Promise<Unsubscribe> {
    const subject = this.subjectOf(kind, id);
    let handlers = this.live.get(subject);
    if (!handlers) {
      handlers = new Set();
      this.live.set(subject, handlers);
    }
    // Its own entry, so the same function subscribed twice is two subscriptions (as on NATS).
    const entry: LiveHandler = (data, on, traceparent) => handler(data, on, traceparent);
    handlers.add(entry);
    return Promise.resolve(() => {
      handlers.delete(entry);
      if (handlers.size === 0 && this.live.get(subject) === handlers) this.live.delete(subject);
    });
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  subjectOf(kind: DeliveryKind, id: string): string {
    return this.core.names.subjects.deliver(kind, id);
  }

  onConnectionChange(listener: (state: 'lost' | 'restored') => void): () => void {
    return this.core.onLinkChange(listener);
  }
}

export class MemoryDeliveryLog implements DeliveryLog {
  constructor(private readonly core: MemoryCore) {}

  bounds(): Promise<{ first: number; last: number }> {
    return Promise.resolve(this.core.streams.deliveries.bounds());
  }

  latestSequence(subject: string): Promise<number> {
    return Promise.resolve(this.core.streams.deliveries.lastOn(subject));
  }

  readAfter(subject: string, after: number, upTo: number, limit: number): Promise<StoredDelivery[]> {
    const found = this.core.streams.deliveries.read(subject, after, upTo, limit);
    return Promise.resolve(
      found.map((message) => ({
        sequence: message.sequence,
        subject: message.subject,
        data: Uint8Array.prototype.slice.call(message.data),
      })),
    );
  }
}
