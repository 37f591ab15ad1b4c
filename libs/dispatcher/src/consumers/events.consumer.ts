import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';

import { EVENT_CONSUMER, type EventConsumer, type EventSubscription } from '@herald/messaging';
import { InjectLogger, type Logger } from '@herald/platform';

import { type DispatcherConfig } from '../config/dispatcher.config';
import { DISPATCHER_CONFIG } from '../dispatcher.tokens';
import { DispatchService } from '../services/dispatch.service';

/**
 * The edge of the dispatcher: pulls from the shared durable consumer once the app is up, and on
 * shutdown stops pulling and lets the event in hand finish before the broker drains.
 */
@Injectable()
export class EventsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private subscription: EventSubscription | undefined;

  constructor(
    @Inject(EVENT_CONSUMER) private readonly consumer: EventConsumer,
    private readonly dispatch: DispatchService,
    @Inject(DISPATCHER_CONFIG) private readonly config: DispatcherConfig,
    @InjectLogger('EventsConsumer') private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const options = {
      maxDeliver: this.config.HERALD_DISPATCHER_MAX_DELIVER,
      ackWaitMs: this.config.HERALD_DISPATCHER_ACK_WAIT,
      batch: 256,
    };
    this.subscription = await this.consumer.start(options, (event) => this.dispatch.handle(event));
    this.logger.info({ stream: 'events' }, 'consuming events');
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.subscription?.stop();
  }
}
