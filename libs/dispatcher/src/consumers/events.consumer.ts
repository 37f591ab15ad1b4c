import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';

import { type EventSubscription, NatsClient, NatsEventConsumer } from '@herald/messaging';
import { ROOT_LOGGER, type Logger } from '@herald/platform';

import { type DispatcherConfig } from '../config/dispatcher.config';
import { DISPATCHER_CONFIG } from '../dispatcher.tokens';
import { DispatchService } from '../services/dispatch.service';

/**
 * The edge of the dispatcher: pulls from the shared durable consumer once the app is up, and on
 * shutdown stops pulling and lets the event in hand finish before NATS drains.
 */
@Injectable()
export class EventsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private subscription: EventSubscription | undefined;

  constructor(
    private readonly client: NatsClient,
    private readonly dispatch: DispatchService,
    @Inject(DISPATCHER_CONFIG) private readonly config: DispatcherConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const consumer = new NatsEventConsumer(this.client, this.logger, {
      maxDeliver: this.config.HERALD_DISPATCHER_MAX_DELIVER,
      ackWaitMs: this.config.HERALD_DISPATCHER_ACK_WAIT,
      batch: 256,
    });
    this.subscription = await consumer.start((event) => this.dispatch.handle(event));
    this.logger.info({ stream: this.client.names.streams.events }, 'consuming events');
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.subscription?.stop();
  }
}
