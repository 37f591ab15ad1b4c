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
import { type Feed } from './feed';

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
  published = 0;
  failed = 0;
  private pending = 0;
  private sequence = 0;
  private roomWaiters: (() => void)[] = [];
  private lastError: string | undefined;

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
  async publish(group: Group): Promise<void> {
    while (this.pending >= MAX_PENDING_ACKS) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    this.pending += 1;
    this.sequence += 1;
    this.publisher
      .publish(group.kind, group.id, benchDelivery(group, this.sequence), nextTraceparent())
      .then(
        () => {
          this.published += 1;
        },
        (error: unknown) => {
          this.failed += 1;
          this.lastError = error instanceof Error ? error.message : String(error);
        },
      )
      .finally(() => {
        this.pending -= 1;
        this.roomWaiters.shift()?.();
      });
  }

  /** Waits for every acknowledgement; throws if any publish failed. */
  async settle(): Promise<void> {
    while (this.pending > 0) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    if (this.failed > 0) throw new Error(`${this.failed} deliveries were not published: ${this.lastError}`);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
