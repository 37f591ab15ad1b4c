import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';

import { type EventSubscription, PUSH_CONSUMER, type PushConsumer } from '@herald/messaging';
import { InjectLogger, type Logger } from '@herald/platform';

import { type PushConfig } from '../config/push.config';
import { PUSH_CONFIG } from '../push.tokens';
import { PushDeliveryService } from '../services/push-delivery.service';

/**
 * The edge of the push worker: two shared durable consumers of PUSH — jobs to resolve into
 * devices, and pushes to single devices — started once the app is up, stopped (letting in-flight
 * sends finish) before the broker drains.
 */
@Injectable()
export class PushJobsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly subscriptions: EventSubscription[] = [];

  constructor(
    @Inject(PUSH_CONSUMER) private readonly consumer: PushConsumer,
    private readonly delivery: PushDeliveryService,
    @Inject(PUSH_CONFIG) private readonly config: PushConfig,
    @InjectLogger('PushJobsConsumer') private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const options = { maxDeliver: this.config.HERALD_PUSH_MAX_ATTEMPTS, ackWaitMs: 60_000, batch: 64 };
    this.subscriptions.push(
      await this.consumer.start('job', { ...options, concurrency: 8 }, (job) => this.delivery.resolve(job)),
    );
    this.subscriptions.push(
      await this.consumer.start(
        'device',
        { ...options, concurrency: this.config.HERALD_PUSH_CONCURRENCY },
        (job) => this.delivery.send(job),
      ),
    );
    this.subscriptions.push(
      // In order, one at a time: a delete must not overtake the register it undoes.
      await this.consumer.start('relay', { ...options, concurrency: 1 }, (job) => this.delivery.forward(job)),
    );
    this.logger.info({ stream: 'push' }, 'consuming push jobs');
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.subscriptions.map((subscription) => subscription.stop()));
  }
}
