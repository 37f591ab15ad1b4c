import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  ClientType,
  type Delivery,
  type DeliveryKind,
  deliveryCodec,
  HubMethod,
  HubName,
  PushType,
} from '@herald/contracts';
import { deleteNamespace, eventually, TEST_NATS_URL, testNamespace } from '@herald/testing';

import { NatsTestBed } from '../testing/nats.fixture';
import { type NatsClient } from './nats-client';
import { NatsDeliveryPublisher, NatsDeliverySubscriber } from './nats-deliveries';

interface Received {
  delivery: Delivery;
  subject: string;
}

function delivery(overrides: Partial<Delivery> = {}): Delivery {
  const userId = randomUUID();
  return {
    eventId: randomUUID(),
    hub: HubName.Main,
    method: HubMethod.ReceiveMessage,
    clientType: ClientType.All,
    message: {
      ContextId: randomUUID(),
      Type: PushType.SyncVault,
      Payload: { UserId: userId, Date: new Date('2024-05-01T12:34:56.789Z') },
    },
    eventSequence: 1,
    acceptedAt: 1_714_566_896_789,
    ...overrides,
  };
}

describe('NatsDeliveryPublisher and NatsDeliverySubscriber', () => {
  const bed = new NatsTestBed({ servers: TEST_NATS_URL, testNamespace, deleteNamespace });
  // Dispatcher and gateway are separate processes: separate connections.
  let dispatcher: NatsClient;
  let gateway: NatsClient;
  let publisher: NatsDeliveryPublisher;
  let subscriber: NatsDeliverySubscriber;

  beforeAll(async () => {
    const namespace = await bed.namespace();
    dispatcher = await bed.connect(namespace);
    gateway = await bed.connect(namespace);
    publisher = new NatsDeliveryPublisher(dispatcher);
    subscriber = new NatsDeliverySubscriber(gateway);
  });

  afterAll(async () => {
    await bed.close();
  });

  /** Subscribes and collects what arrives, decoded. */
  async function listen(kind: DeliveryKind, id: string) {
    const received: Received[] = [];
    const unsubscribe = await subscriber.subscribe(kind, id, (data, subject) => {
      received.push({ delivery: deliveryCodec.decode(data), subject });
    });
    return { received, unsubscribe };
  }

  async function storedOn(subject: string): Promise<number> {
    const info = await dispatcher.manager.streams.info(dispatcher.names.streams.deliveries, {
      subjects_filter: subject,
    });
    return info.state.subjects?.[subject] ?? 0;
  }

  it('hands a published delivery to a subscriber of its subject, and keeps it in DELIVERIES', async () => {
    const userId = randomUUID();
    const listener = await listen('user', userId);
    const sent = delivery();

    await publisher.publish('user', userId, sent);

    const subject = `${dispatcher.names.namespace}.deliver.user.${userId}`;
    await eventually(() => expect(listener.received).toHaveLength(1));
    expect(listener.received[0]).toEqual({ delivery: sent, subject });

    const stored = await dispatcher.manager.streams.getMessage(dispatcher.names.streams.deliveries, {
      last_by_subj: subject,
    });
    expect(deliveryCodec.decode(stored.data)).toEqual(sent);
    listener.unsubscribe();
  });

  it.each<[DeliveryKind, string]>([
    ['org', randomUUID()],
    ['installation', randomUUID()],
    ['anon', randomUUID()],
  ])('routes %s deliveries on their own subject', async (kind, id) => {
    const listener = await listen(kind, id);
    const sent = delivery(
      kind === 'anon' ? { hub: HubName.Anonymous, method: HubMethod.AuthRequestResponseReceived } : {},
    );

    await publisher.publish(kind, id, sent);

    await eventually(() => expect(listener.received).toHaveLength(1));
    expect(listener.received[0]).toEqual({
      delivery: sent,
      subject: `${dispatcher.names.namespace}.deliver.${kind}.${id}`,
    });
    listener.unsubscribe();
  });

  it('does not hand a delivery to subscribers of other subjects', async () => {
    const [target, bystander] = [randomUUID(), randomUUID()];
    const targetListener = await listen('user', target);
    const bystanderListener = await listen('user', bystander);
    const [sent, marker] = [delivery(), delivery()];

    await publisher.publish('user', target, sent);
    await publisher.publish('user', bystander, marker);

    // Published later on the same connection, so once the marker is here the first one is too.
    await eventually(() => expect(bystanderListener.received).toHaveLength(1));
    expect(bystanderListener.received[0]!.delivery).toEqual(marker);
    await eventually(() => expect(targetListener.received).toHaveLength(1));
    expect(targetListener.received[0]!.delivery).toEqual(sent);
    targetListener.unsubscribe();
    bystanderListener.unsubscribe();
  });

  it('hands nothing more to a subscription after unsubscribe', async () => {
    const [userId, organizationId] = [randomUUID(), randomUUID()];
    const listener = await listen('user', userId);
    const markers = await listen('org', organizationId);
    const first = delivery();
    await publisher.publish('user', userId, first);
    await eventually(() => expect(listener.received).toHaveLength(1));

    listener.unsubscribe();
    await publisher.publish('user', userId, delivery());
    const marker = delivery();
    await publisher.publish('org', organizationId, marker);

    // The marker went out after the second delivery; once it has arrived, the second never will.
    await eventually(() => expect(markers.received.map((entry) => entry.delivery)).toEqual([marker]));
    expect(listener.received.map((entry) => entry.delivery)).toEqual([first]);
    // It was still published: only the live subscription ended.
    expect(await storedOn(`${dispatcher.names.namespace}.deliver.user.${userId}`)).toBe(2);
    markers.unsubscribe();
  });

  it('stores the same (event id, subject, client type) once', async () => {
    const [userId, otherUserId] = [randomUUID(), randomUUID()];
    const namespace = dispatcher.names.namespace;
    const sent = delivery({ clientType: ClientType.Browser });
    const totalBefore = (await dispatcher.manager.streams.info(dispatcher.names.streams.deliveries)).state
      .messages;

    await publisher.publish('user', userId, sent);
    await publisher.publish('user', userId, sent);
    await publisher.publish('user', userId, { ...sent, acceptedAt: sent.acceptedAt + 1 });
    expect(await storedOn(`${namespace}.deliver.user.${userId}`)).toBe(1);

    // Another client type or another subject is another delivery of the same event.
    await publisher.publish('user', userId, { ...sent, clientType: ClientType.Mobile });
    await publisher.publish('user', otherUserId, sent);
    expect(await storedOn(`${namespace}.deliver.user.${userId}`)).toBe(2);
    expect(await storedOn(`${namespace}.deliver.user.${otherUserId}`)).toBe(1);

    const totalAfter = (await dispatcher.manager.streams.info(dispatcher.names.streams.deliveries)).state
      .messages;
    expect(totalAfter - totalBefore).toBe(3);
  });
});
