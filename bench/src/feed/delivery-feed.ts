import { randomUUID } from 'node:crypto';

import { pino } from 'pino';

import {
  ClientType,
  type Delivery,
  deliveryCodec,
  encodeMessagePack,
  HubMethod,
  HubName,
  nextTraceparent,
  PushType,
} from '@herald/contracts';
import {
  DEFAULT_TOPOLOGY,
  ensureStreams,
  NatsClient,
  NatsDeliveryPublisher,
  setupManager,
  streamConfigs,
} from '@herald/messaging';
import { TEST_NATS_URL } from '@herald/testing';

import { type Group } from '../population';
import { type Feed, InFlight } from './feed';

/** Payload field with the feeder's send time (ms since the epoch, sub-millisecond): clients compute latency from it. */
export const SENT_AT_FIELD = 'BenchSentAt';
/** JetStream acknowledgements awaited at once: enough to keep NATS busy, few enough to bound memory. */
const MAX_PENDING_ACKS = 512;
/** The device that made every change: a GUID like any other, never one of the clients'. */
export const BENCH_CONTEXT_ID = randomUUID();
export const BENCH_COLLECTION_IDS = [randomUUID(), randomUUID(), randomUUID()];

/**
 * A SyncCipherUpdate as the dispatcher routes it (libs/dispatcher routing.ts): a personal item to
 * its owner, a shared one to its organization; plus the send time. 250 to 360 bytes as a SignalR message.
 */
export function benchDelivery(group: Group, sequence: number): Delivery {
  const personal = group.kind === 'user';
  return {
    eventId: randomUUID(),
    hub: HubName.Main,
    method: HubMethod.ReceiveMessage,
    clientType: ClientType.All,
    message: {
      ContextId: BENCH_CONTEXT_ID,
      Type: PushType.SyncCipherUpdate,
      Payload: {
        Id: randomUUID(),
        UserId: personal ? group.id : null,
        OrganizationId: personal ? null : group.id,
        CollectionIds: personal ? null : BENCH_COLLECTION_IDS,
        RevisionDate: new Date(),
        [SENT_AT_FIELD]: performance.timeOrigin + performance.now(),
      },
    },
    acceptedAt: Date.now(),
    eventSequence: sequence,
  };
}

/**
 * Publishes deliveries exactly as the dispatcher does (NatsDeliveryPublisher: JetStream, message
 * id, traceparent header, stored in DELIVERIES) with many acknowledgements awaited at once, so
 * that every server under test is fed the same NATS messages and the dispatcher is not measured.
 */
export class DeliveryFeed implements Feed {
  private sequence = 0;
  private readonly inFlight = new InFlight(MAX_PENDING_ACKS);

  private constructor(
    private readonly client: NatsClient,
    private readonly publisher: NatsDeliveryPublisher,
  ) {}

  /** Connects and makes sure the namespace's streams exist (the baselines have no gateway to create them). */
  static async connect(namespace: string): Promise<DeliveryFeed> {
    const client = await NatsClient.connect({
      servers: TEST_NATS_URL,
      namespace,
      name: 'herald-bench-feeder',
      logger: pino({ level: 'silent' }),
    });
    await ensureStreams(await setupManager(client.connection), streamConfigs(client.names, DEFAULT_TOPOLOGY));
    return new DeliveryFeed(client, new NatsDeliveryPublisher(client));
  }

  /** Sizes of one delivery to `group`: on NATS, and as the SignalR MessagePack message a client reads. */
  static sizes(group: Group): { natsBytes: number; signalRBytes: number } {
    const delivery = benchDelivery(group, 1);
    const body = encodeMessagePack([1, {}, null, delivery.method, [delivery.message]]);
    // One VarInt byte for bodies under 128 bytes, two under 16 KiB.
    return {
      natsBytes: deliveryCodec.encode(delivery).length,
      signalRBytes: body.length + (body.length < 128 ? 1 : 2),
    };
  }

  /** Sends one delivery; resolves at once unless too many acknowledgements are outstanding. */
  get published(): number {
    return this.inFlight.accepted;
  }

  async publish(group: Group): Promise<void> {
    await this.inFlight.acquire();
    this.sequence += 1;
    this.inFlight.track(
      this.publisher.publish(group.kind, group.id, benchDelivery(group, this.sequence), nextTraceparent()),
    );
  }

  /** Waits for every acknowledgement; throws if any publish failed. */
  settle(): Promise<void> {
    return this.inFlight.settled('deliveries were not published');
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
