import { type Delivery, type DeliveryKind, deliveryCodec } from '@herald/contracts';

import { type DeliveryPublisher, type DeliverySubscriber, type Unsubscribe } from '../ports';
import { type NatsClient } from './nats-client';
import { traceHeaders, traceparentOf } from './trace-headers';

/**
 * Deliveries go through JetStream so DELIVERIES keeps them for replay; a JetStream publish is also
 * an ordinary NATS message, so gateways receive it live through core subscriptions.
 */
export class NatsDeliveryPublisher implements DeliveryPublisher {
  constructor(private readonly client: NatsClient) {}

  async publish(kind: DeliveryKind, id: string, delivery: Delivery, traceparent?: string): Promise<void> {
    const subject = this.client.names.subjects.deliver(kind, id);
    await this.client.publish(subject, deliveryCodec.encode(delivery), {
      msgID: `${delivery.eventId}:${kind}:${id}:${delivery.clientType}`,
      headers: traceHeaders(traceparent),
      expect: { streamName: this.client.names.streams.deliveries },
    });
  }
}

export class NatsDeliverySubscriber implements DeliverySubscriber {
  constructor(private readonly client: NatsClient) {}

  async subscribe(
    kind: DeliveryKind,
    id: string,
    handler: (data: Uint8Array, subject: string, traceparent?: string) => void,
  ): Promise<Unsubscribe> {
    await this.client.nextTurn();
    const subscription = this.client.connection.subscribe(this.client.names.subjects.deliver(kind, id), {
      callback: (error, message) => {
        if (!error) {
          handler(message.data, message.subject, traceparentOf(message));
        }
      },
    });
    // A flush round trip proves the server registered the interest before the caller goes on;
    // the subscriptions made in one turn share it.
    await this.client.flush();
    return () => subscription.unsubscribe();
  }

  flush(): Promise<void> {
    return this.client.flush();
  }

  subjectOf(kind: DeliveryKind, id: string): string {
    return this.client.names.subjects.deliver(kind, id);
  }

  onConnectionChange(listener: (state: 'lost' | 'restored') => void): () => void {
    return this.client.onConnectionChange(listener);
  }
}
