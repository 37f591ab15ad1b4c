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
import { ensureStreams, streamConfigs } from './topology';

/**
 * Which streams a process configures: `all` (the services that own the limits: gateway,
 * dispatcher, push worker), or `cluster` (an observer such as the heartbeat service: only the
 * HEARTBEATS and DEAD streams it reads, so that it never resets the limits the owners set, and the
 * presence bucket only if it is ever used, so that it never creates it with a TTL of its own).
 */
export type NatsStreamScope = 'all' | 'cluster';

/**
 * The NATS JetStream engine over one connection: makes sure the streams exist with the given
 * limits, opens the buckets and builds every port. `close` drains the connection.
 */
export async function createNatsBroker(
  client: NatsClient,
  logger: Logger,
  limits: Partial<BrokerLimits> = {},
  scope: NatsStreamScope = 'all',
): Promise<Broker> {
  const { replayWindowMs, eventsMaxAgeMs, gatewaysTtlMs } = { ...DEFAULT_BROKER_LIMITS, ...limits };
  const { streams } = client.names;
  const observed: string[] = [streams.heartbeats, streams.dead];
  await ensureStreams(
    client.manager,
    streamConfigs(client.names, { replayWindowMs, eventsMaxAgeMs }).filter(
      (stream) => scope === 'all' || observed.includes(stream.name!),
    ),
  );
  const openPresence = () => NatsPresenceStore.open(client, replayWindowMs);
  const [presence, gateways] = await Promise.all([
    scope === 'all' ? openPresence() : lazyPresence(openPresence),
    NatsGatewayDirectory.open(client, gatewaysTtlMs),
  ]);
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
