import { type ClusterSource, type DeadLetterLog, type HeartbeatPublisher } from './cluster';
import { type ControlBus } from './control';
import { type DeliveryLog, type DeliveryPublisher, type DeliverySubscriber } from './deliveries';
import { type EventConsumer, type EventLog } from './events';
import { type GatewayDirectory, type PresenceStore } from './presence';
import { type PushConsumer, type PushQueue } from './push';

/** One engine's implementation of every port, as `MessagingModule` provides them. */
export interface Broker extends BrokerStatus {
  readonly engine: 'nats' | 'memory';
  readonly eventLog: EventLog;
  readonly eventConsumer: EventConsumer;
  readonly deliveryPublisher: DeliveryPublisher;
  readonly deliverySubscriber: DeliverySubscriber;
  readonly deliveryLog: DeliveryLog;
  readonly presence: PresenceStore;
  readonly gateways: GatewayDirectory;
  readonly control: ControlBus;
  readonly pushQueue: PushQueue;
  readonly pushConsumer: PushConsumer;
  readonly heartbeats: HeartbeatPublisher;
  readonly cluster: ClusterSource;
  readonly deadLetters: DeadLetterLog;
  /** Lets pending work finish and releases the engine (NATS: drains the connection). */
  close(): Promise<void>;
}

/**
 * Whether this process's link to the broker is up: readiness, and refusing work at once (rather
 * than after a publish timeout) while it is down. Provided by the engine itself.
 */
export interface BrokerStatus {
  isConnected(): boolean;
}
export const BROKER_STATUS = Symbol('BrokerStatus');

/** The broker settings both engines share. */
export interface BrokerLimits {
  /** How long deliveries and presence records are kept (HERALD_REPLAY_WINDOW, default 15 min). */
  replayWindowMs: number;
  /** How long vault events are kept (default 24 h). */
  eventsMaxAgeMs: number;
  /** A gateway missing beats this long is gone: the TTL of its `gateways` entry (15 s). */
  gatewaysTtlMs: number;
}

export const DEFAULT_BROKER_LIMITS: BrokerLimits = {
  replayWindowMs: 15 * 60_000,
  eventsMaxAgeMs: 24 * 3_600_000,
  gatewaysTtlMs: 15_000,
};
