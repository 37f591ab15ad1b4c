import { type AnyHeraldEvent } from '@herald/contracts';

/**
 * The durable event log (stream EVENTS).
 * Guarantees: `append` resolves only after the broker has stored the event (on disk for NATS);
 * an event whose `id` was already appended within the duplicate window (2 min) is stored once and
 * reported as `duplicate` with the sequence it was first stored at. Sequences grow by one with
 * every stored event, and order is the order of successful appends.
 */
export interface EventLog {
  append(event: AnyHeraldEvent, traceparent?: string): Promise<AppendResult>;
}
export const EVENT_LOG = Symbol('EventLog');

export interface AppendResult {
  sequence: number;
  duplicate: boolean;
}

/** What a consumer's handler decides for one message. */
export type ConsumeOutcome =
  { kind: 'ack' } | { kind: 'retry'; delayMs: number; reason: string } | { kind: 'dead'; reason: string };

/** One message handed to a competing consumer's handler. */
export interface ConsumedEvent {
  /** The raw bytes as stored (dead letters keep them unchanged). */
  data: Uint8Array;
  /** How many times this message has been delivered, 1 on the first attempt. */
  attempt: number;
  /** Its sequence in the stream it is consumed from. */
  sequence: number;
  subject: string;
  /** W3C trace context the message carried, if any. */
  traceparent?: string;
}

/**
 * Decides one message. A handler that throws is treated as `retry` after 1 s with the error's
 * message as the reason.
 */
export type ConsumeHandler = (event: ConsumedEvent) => Promise<ConsumeOutcome>;

/** How a competing consumer runs (the durable consumer's settings for NATS). */
export interface ConsumerOptions {
  /** Deliveries of one message before it is dead-lettered. */
  maxDeliver: number;
  /**
   * How long a handed-out message may stay undecided before it is handed out again (its handler
   * or its process is presumed dead).
   */
  ackWaitMs: number;
  /** Messages taken from the broker at a time (a prefetch hint). */
  batch: number;
  /** Messages handled at once by this process; 1 (the default) keeps stream order. */
  concurrency?: number;
}

/** A running competing consumer. */
export interface EventSubscription {
  /**
   * Stops taking messages and resolves once the messages in hand are decided (their outcomes are
   * carried out). Messages taken but never handed to the handler go back to the other consumers.
   */
  stop(): Promise<void>;
}

/**
 * The competing consumer of the event log (the durable consumer `dispatcher` on EVENTS): any
 * number of processes (and `start` calls) share it, and each event is handed to one of them at a
 * time. Guarantees:
 * - at least once: an event is handed out again until a handler acks it; `retry` hands it out
 *   again no sooner than `delayMs` later, with `attempt` one higher; an event left undecided for
 *   `ackWaitMs` (a handler or process that died) is handed out again;
 * - bounded: an event still asking for a retry on attempt `maxDeliver` is dead-lettered with the
 *   reason `gave up after <n> attempts: <reason>`;
 * - `dead` moves the event, bytes unchanged, to the dead-letter stream with its reason, its original
 *   subject and sequence, and never hands it out again;
 * - with concurrency 1, one process sees its events in stream order (retries aside).
 */
export interface EventConsumer {
  start(options: ConsumerOptions, handler: ConsumeHandler): Promise<EventSubscription>;
}
export const EVENT_CONSUMER = Symbol('EventConsumer');
