import { type Heartbeat } from '@herald/contracts';

/**
 * Where services publish their heartbeats (`<ns>.heartbeat.<gatewayId>` or
 * `<ns>.heartbeat.push.<workerId>`, kept an hour by the HEARTBEATS stream). At most once: a beat
 * published while the broker is away is lost, the next one five seconds later replaces it.
 * Gateways publish through `GatewayDirectory.put`, which also keeps the beat in the bucket.
 */
export interface HeartbeatPublisher {
  publish(heartbeat: Heartbeat): Promise<void>;
}
export const HEARTBEAT_PUBLISHER = Symbol('HeartbeatPublisher');

/** Where a dead letter came from: the consumer that gave up on it. */
export type DeadLetterSource = 'events' | 'push' | 'push-device' | 'push-relay';

/** What the heartbeat service reads about the cluster. */
export interface ClusterSource {
  /**
   * Every heartbeat kept (the last hour), then every new one, in publish order, decoded; beats
   * that do not decode are skipped. Resolves with a function that stops following.
   */
  follow(handler: (heartbeat: Heartbeat) => void): Promise<() => Promise<void>>;
  /** Messages in the dead-letter stream, by source (`events`, `push`, `push-device`, `push-relay`). */
  deadLetters(): Promise<Partial<Record<DeadLetterSource, number>>>;
}
export const CLUSTER_SOURCE = Symbol('ClusterSource');

/** One message a consumer gave up on, as kept in the dead-letter stream. */
export interface DeadLetter {
  /** Its sequence in the dead-letter stream. */
  sequence: number;
  source: DeadLetterSource;
  reason: string;
  originalSubject: string;
  originalSequence: number;
  /** The bytes as they were consumed, unchanged. */
  data: Uint8Array;
}

/** Reads the dead-letter stream back (operators inspecting what failed, and the contract tests). */
export interface DeadLetterLog {
  /** Dead letters of `source` with a sequence above `after`, oldest first, at most `limit`. */
  read(source: DeadLetterSource, after: number, limit: number): Promise<DeadLetter[]>;
}
export const DEAD_LETTER_LOG = Symbol('DeadLetterLog');
