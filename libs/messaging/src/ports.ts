import {
  type AnyHeraldEvent,
  type Delivery,
  type DeliveryKind,
  type DevicePushJob,
  type GatewayHeartbeat,
  type PushJob,
  type RelayJob,
} from '@herald/contracts';

/**
 * The durable event log (stream EVENTS).
 * Guarantees: `append` resolves only after the broker has stored the event (on disk for NATS);
 * an event whose `id` was already appended within the duplicate window (2 min) is stored once and
 * reported as `duplicate`. Order is the order of successful appends.
 */
export interface EventLog {
  append(event: AnyHeraldEvent, traceparent?: string): Promise<AppendResult>;
}

export interface AppendResult {
  sequence: number;
  duplicate: boolean;
}

/** What a consumer decides for one message. */
export type ConsumeOutcome =
  { kind: 'ack' } | { kind: 'retry'; delayMs: number; reason: string } | { kind: 'dead'; reason: string };

export interface ConsumedEvent {
  /** The raw bytes as stored (dead letters keep them unchanged). */
  data: Uint8Array;
  /** How many times this message has been delivered, 1 on the first attempt. */
  attempt: number;
  sequence: number;
  subject: string;
  /** W3C trace context the message carried, if any. */
  traceparent?: string;
}

/**
 * A competing consumer of the event log: any number of processes share one durable consumer and
 * each event goes to one of them at a time. At least once: an event is redelivered until the
 * handler acks it, up to a bounded number of attempts; `dead` moves it to the dead-letter stream
 * with the reason and never redelivers it.
 */
export interface EventSubscription {
  stop(): Promise<void>;
}

/**
 * Publishes deliveries for the gateways.
 * Guarantees: `publish` resolves after the delivery is stored in DELIVERIES (kept for the replay
 * window) and has been sent to every gateway subscribed to its subject at that moment. The
 * idempotency key is event id + subject: a redelivered event's deliveries are stored once.
 */
export interface DeliveryPublisher {
  publish(kind: DeliveryKind, id: string, delivery: Delivery, traceparent?: string): Promise<void>;
}

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

export type Unsubscribe = () => void;

/** Where a device stopped receiving, so that its next connection resumes there. */
export type PresenceRecord =
  | {
      state: 'connected';
      connectionId: string;
      gatewayId: string;
      /** Everything after this DELIVERIES sequence reaches the connection live. */
      sinceSequence: number;
      at: number;
    }
  | {
      state: 'disconnected';
      connectionId: string;
      gatewayId: string;
      /** Every delivery up to this sequence was handed to the connection's socket. */
      resumeSequence: number;
      at: number;
    };

/**
 * Last known position of every device (user id + device identifier), kept for the replay window.
 * Guarantees: `markDisconnected` only overwrites the record of the same connection, so a late close
 * of an old connection never rewinds a newer one.
 */
export interface PresenceStore {
  get(userId: string, device: string): Promise<PresenceRecord | undefined>;
  markConnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'connected' }>,
  ): Promise<void>;
  markDisconnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'disconnected' }>,
  ): Promise<void>;
}

/** One stored delivery read back for replay. */
export interface StoredDelivery {
  sequence: number;
  subject: string;
  data: Uint8Array;
}

/**
 * Reads the DELIVERIES stream back. `latestSequence(subject)` costs one request and says whether
 * anything newer than a resume point exists; `readAfter` reads the gap message by message.
 */
export interface DeliveryLog {
  /** The stream's first and last sequence (first > last when empty). */
  bounds(): Promise<{ first: number; last: number }>;
  /** Sequence of the newest delivery on `subject`, 0 if none is kept. */
  latestSequence(subject: string): Promise<number>;
  /** Deliveries on `subject` with a sequence above `after` and at most `upTo`, oldest first, at most `limit`. */
  readAfter(subject: string, after: number, upTo: number, limit: number): Promise<StoredDelivery[]>;
}

/** What each live gateway last reported about itself (its heartbeat). */
export type GatewayBeat = GatewayHeartbeat;

/**
 * The live gateways: each announces its heartbeat every 5 s (published on
 * `<ns>.heartbeat.<gatewayId>`, kept by the HEARTBEATS stream for an hour, and put in the
 * `gateways` bucket, whose entries expire 15 s after the last beat).
 */
export interface GatewayDirectory {
  put(beat: GatewayBeat): Promise<void>;
  get(gatewayId: string): Promise<GatewayBeat | undefined>;
  list(): Promise<GatewayBeat[]>;
}

/**
 * Cluster-wide commands to every gateway (core NATS, not stored): a gateway that is down holds no
 * connections, so it has nothing to act on when it comes back.
 */
export interface ControlBus {
  /** Resolves once the broker has the message. */
  disconnectUser(userId: string, reason: string): Promise<void>;
  onDisconnectUser(handler: (userId: string, reason: string) => void): Promise<Unsubscribe>;
  /**
   * Asks a gateway about one of its connections. Undefined when the gateway does not answer in
   * time (it is gone).
   */
  queryConnection(gatewayId: string, connectionId: string): Promise<ConnectionStatus | undefined>;
  /** Answers questions about this gateway's connections. */
  onConnectionQuery(
    gatewayId: string,
    handler: (connectionId: string) => ConnectionStatus,
  ): Promise<Unsubscribe>;
}

/** WIRE SHAPE: a gateway's answer about one of its connections. */
export type ConnectionStatus = { state: 'open'; resumeSequence: number } | { state: 'closed' };

/**
 * The push work queue (stream PUSH). `publish*` resolves after JetStream stored the job; the job
 * id is the idempotency key, so a republished job is stored once within the duplicate window.
 */
export interface PushQueue {
  publishJob(job: PushJob, traceparent?: string): Promise<void>;
  publishDeviceJob(job: DevicePushJob, traceparent?: string): Promise<void>;
  publishRelayJob(job: RelayJob): Promise<void>;
}
