import { type Logger } from 'pino';

import { type Broker, type BrokerLimits, DEFAULT_BROKER_LIMITS } from '../ports';
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
 * The NATS JetStream engine over one connection: makes sure the streams exist with the given
 * limits, opens the buckets and builds every port. `close` drains the connection.
 */
export async function createNatsBroker(
  client: NatsClient,
  logger: Logger,
  limits: Partial<BrokerLimits> = {},
): Promise<Broker> {
  const { replayWindowMs, eventsMaxAgeMs, gatewaysTtlMs } = { ...DEFAULT_BROKER_LIMITS, ...limits };
  await ensureStreams(client.manager, streamConfigs(client.names, { replayWindowMs, eventsMaxAgeMs }));
  const [presence, gateways] = await Promise.all([
    NatsPresenceStore.open(client, replayWindowMs),
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
