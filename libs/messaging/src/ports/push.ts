import { type DevicePushJob, type PushJob, type RelayJob } from '@herald/contracts';

import { type ConsumeHandler, type ConsumerOptions, type EventSubscription } from './events';

/**
 * The push work queue (stream PUSH). `publish*` resolves after the broker stored the job; the job
 * id is the idempotency key, so a republished job is stored once within the duplicate window.
 * A job leaves the queue once its consumer acks it (or dead-letters it).
 */
export interface PushQueue {
  publishJob(job: PushJob, traceparent?: string): Promise<void>;
  publishDeviceJob(job: DevicePushJob, traceparent?: string): Promise<void>;
  publishRelayJob(job: RelayJob): Promise<void>;
}
export const PUSH_QUEUE = Symbol('PushQueue');

/**
 * The three lanes of the push queue, each with its own shared durable consumer and dead-letter
 * source: `job` (one event for one target, `push-resolver`, dead letters `push`), `device` (one
 * push to one device, `push-sender`, `push-device`), `relay` (registration changes for Bitwarden's
 * relay, `push-relay`, `push-relay`).
 */
export type PushLane = 'job' | 'device' | 'relay';

/**
 * The push worker's competing consumers, one per lane, with the guarantees of `EventConsumer`
 * (at least once, retry with delay, dead letter after `maxDeliver`, redelivery after `ackWaitMs`,
 * `stop` finishes the messages in hand). Lanes are independent: a stuck lane holds back no other.
 */
export interface PushConsumer {
  start(lane: PushLane, options: ConsumerOptions, handler: ConsumeHandler): Promise<EventSubscription>;
}
export const PUSH_CONSUMER = Symbol('PushConsumer');
