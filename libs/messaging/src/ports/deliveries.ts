import { type Delivery, type DeliveryKind } from '@herald/contracts';

export type Unsubscribe = () => void;

/**
 * Publishes deliveries for the gateways.
 * Guarantees: `publish` resolves after the delivery is stored in DELIVERIES (kept for the replay
 * window) and has been sent to every gateway subscribed to its subject at that moment. The
 * idempotency key is event id + subject + client type: a redelivered event's deliveries are
 * stored once (live subscribers may still see the repeat; they drop event ids they have seen).
 */
export interface DeliveryPublisher {
  publish(kind: DeliveryKind, id: string, delivery: Delivery, traceparent?: string): Promise<void>;
}
export const DELIVERY_PUBLISHER = Symbol('DeliveryPublisher');

/** Live delivery traffic for a gateway: at most once, in publish order per subject. */
export interface DeliverySubscriber {
  /** Starts receiving a subject; resolves once the broker has registered the interest. */
  subscribe(
    kind: DeliveryKind,
    id: string,
    handler: (data: Uint8Array, subject: string, traceparent?: string) => void,
  ): Promise<Unsubscribe>;
  /** Resolves once every message the broker sent this subscriber before the call has been handled. */
  flush(): Promise<void>;
  /** The subject a group's deliveries travel on (what the delivery log is read by). */
  subjectOf(kind: DeliveryKind, id: string): string;
  /**
   * Tells when the link to the broker is lost and restored: subscriptions resume by themselves,
   * but what was published in between never arrives live and has to be read from the log.
   */
  onConnectionChange(listener: (state: 'lost' | 'restored') => void): () => void;
}
export const DELIVERY_SUBSCRIBER = Symbol('DeliverySubscriber');

/** One stored delivery read back for replay. */
export interface StoredDelivery {
  sequence: number;
  subject: string;
  data: Uint8Array;
}

/**
 * Reads the DELIVERIES stream back (what replay and catch-up use). Sequences are the ones the
 * deliveries were stored at; what is older than the replay window (or beyond the stream's
 * message limit) has been trimmed from the front. `latestSequence(subject)` costs one request and
 * says whether anything newer than a resume point exists; `readAfter` reads the gap.
 */
export interface DeliveryLog {
  /**
   * The stream's first and last sequence. Empty: first = last + 1 (after trimming everything,
   * `last` still says how far the stream got). Before anything was stored: {first: 0, last: 0}
   * on NATS, which a reader treats alike (first > last or last = 0: nothing kept).
   */
  bounds(): Promise<{ first: number; last: number }>;
  /** Sequence of the newest delivery kept on `subject`, 0 if none is kept. */
  latestSequence(subject: string): Promise<number>;
  /**
   * Deliveries kept on `subject` with a sequence above `after` and at most `upTo`, oldest first,
   * at most `limit` of them.
   */
  readAfter(subject: string, after: number, upTo: number, limit: number): Promise<StoredDelivery[]>;
}
export const DELIVERY_LOG = Symbol('DeliveryLog');
