import { type Logger } from 'pino';

import { type Broker, type BrokerLimits, DEFAULT_BROKER_LIMITS, type PresenceStore } from '../ports';
import { type NatsClient } from './nats-client';
import { NatsClusterSource } from './nats-cluster-source';
import { NatsEventConsumers, NatsPushConsumer } from './nats-consumers';
import { NatsControlBus } from './nats-control-bus';
import { NatsDeadLetterLog } from './nats-dead-letters';
import { NatsDeliveryPublisher, NatsDeliverySubscriber } from './nats-deliveries';
import { NatsDeliveryLog } from './nats-delivery-log';
import { NatsEventLog } from './nats-event-log';
import { NatsGatewayDirectory } from './nats-gateway-directory';
import { NatsHeartbeatPublisher } from './nats-heartbeats';
import { NatsPresenceStore } from './nats-presence';
import { NatsPushQueue } from './nats-push-queue';
import {
  assertReplicasPossible,
  bucketStream,
  ensureBucketReplicas,
  ensureStreams,
  type ReplicaChange,
  setupManager,
  streamConfigs,
} from './topology';

/**
 * Which streams a process configures: `all` (the services that own the limits: gateway,
 * dispatcher, push worker), or `cluster` (an observer such as the heartbeat service: only the
 * HEARTBEATS and DEAD streams it reads, so that it never resets the limits the owners set, and the
 * presence bucket only if it is ever used, so that it never creates it with a TTL of its own).
 */
export type NatsStreamScope = 'all' | 'cluster';

export interface NatsBrokerOptions {
  limits?: Partial<BrokerLimits>;
  /** Which streams this process configures (default `all`). */
  scope?: NatsStreamScope;
  /** Copies of every stream and bucket (HERALD_STREAM_REPLICAS, default 1). */
  replicas?: number;
}

/**
 * The NATS JetStream engine over one connection: makes sure the streams exist with the given
 * limits and replica count, opens the buckets and builds every port. `close` drains the connection.
 */
export async function createNatsBroker(
  client: NatsClient,
  logger: Logger,
  options: NatsBrokerOptions = {},
): Promise<Broker> {
  const { scope = 'all', replicas = 1 } = options;
  const { replayWindowMs, eventsMaxAgeMs, gatewaysTtlMs } = { ...DEFAULT_BROKER_LIMITS, ...options.limits };
  const { streams, buckets } = client.names;
  const observed: string[] = [streams.heartbeats, streams.dead];
  assertReplicasPossible(client.connection, replicas);
  const setup = await setupManager(client.connection);
  const changes = await ensureStreams(
    setup,
    streamConfigs(client.names, { replayWindowMs, eventsMaxAgeMs, replicas }).filter(
      (stream) => scope === 'all' || observed.includes(stream.name!),
    ),
  );
  const openPresence = () => NatsPresenceStore.open(client, replayWindowMs, replicas);
  const [presence, gateways] = await Promise.all([
    scope === 'all' ? openPresence() : lazyPresence(openPresence),
    NatsGatewayDirectory.open(client, gatewaysTtlMs, replicas),
  ]);
  // Opening a bucket creates it with `replicas`, but leaves an existing one as it was made. An
  // observer leaves the presence bucket to its owners, as it leaves their streams.
  const owned = scope === 'all' ? [buckets.gateways, buckets.presence] : [buckets.gateways];
  for (const bucket of owned) {
    const change = await ensureBucketReplicas(setup, bucketStream(bucket), replicas);
    if (change) changes.push(change);
  }
  logReplicaChanges(logger, changes);
  return {
    engine: 'nats',
    eventLog: new NatsEventLog(client),
    eventConsumer: new NatsEventConsumers(client, logger),
    deliveryPublisher: new NatsDeliveryPublisher(client),
    deliverySubscriber: new NatsDeliverySubscriber(client),
    deliveryLog: new NatsDeliveryLog(client),
    presence,
    gateways,
    control: new NatsControlBus(client),
    pushQueue: new NatsPushQueue(client),
    pushConsumer: new NatsPushConsumer(client, logger),
    heartbeats: new NatsHeartbeatPublisher(client),
    cluster: new NatsClusterSource(client),
    deadLetters: new NatsDeadLetterLog(client),
    isConnected: () => client.connected,
    close: () => client.close(),
  };
}

/** Says which streams were scaled: a count lowered by mistake leaves them with fewer copies. */
function logReplicaChanges(logger: Logger, changes: ReplicaChange[]): void {
  for (const { stream, from, to } of changes) {
    const line = { stream, from, to };
    if (to < from) logger.warn(line, 'stream replicas lowered to HERALD_STREAM_REPLICAS');
    else logger.info(line, 'stream replicas raised to HERALD_STREAM_REPLICAS');
  }
}

/** A presence store whose bucket is opened on first use (a failed open is tried again next time). */
function lazyPresence(open: () => Promise<PresenceStore>): PresenceStore {
  let opening: Promise<PresenceStore> | undefined;
  const store = (): Promise<PresenceStore> =>
    (opening ??= open().catch((error: unknown) => {
      opening = undefined;
      throw error;
    }));
  return {
    get: async (userId, device) => (await store()).get(userId, device),
    markConnected: async (userId, device, record) => (await store()).markConnected(userId, device, record),
    markDisconnected: async (userId, device, record) =>
      (await store()).markDisconnected(userId, device, record),
  };
}
