import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';

import { type EventSubscription, NatsClient, NatsStreamConsumer } from '@herald/messaging';
import { ROOT_LOGGER, type Logger } from '@herald/platform';

import { type PushConfig } from '../config/push.config';
import { PUSH_CONFIG } from '../push.tokens';
import { PushDeliveryService } from '../services/push-delivery.service';

/**
 * The edge of the push worker: two shared durable consumers of PUSH — jobs to resolve into
 * devices, and pushes to single devices — started once the app is up, stopped (letting in-flight
 * sends finish) before NATS drains.
 */
@Injectable()
export class PushJobsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly subscriptions: EventSubscription[] = [];

  constructor(
    private readonly client: NatsClient,
    private readonly delivery: PushDeliveryService,
    @Inject(PUSH_CONFIG) private readonly config: PushConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { streams, consumers, subjects } = this.client.names;
    const options = { maxDeliver: this.config.HERALD_PUSH_MAX_ATTEMPTS, ackWaitMs: 60_000, batch: 64 };
    const resolver = new NatsStreamConsumer(
      this.client,
      this.logger,
      {
        stream: streams.push,
        durable: consumers.pushResolver,
        filterSubject: subjects.pushJob,
        deadSubject: subjects.dead('push'),
      },
      { ...options, concurrency: 8 },
    );
    const sender = new NatsStreamConsumer(
      this.client,
      this.logger,
      {
        stream: streams.push,
        durable: consumers.pushSender,
        filterSubject: subjects.pushDevice,
        deadSubject: subjects.dead('push-device'),
      },
      { ...options, concurrency: this.config.HERALD_PUSH_CONCURRENCY },
    );
    const forwarder = new NatsStreamConsumer(
      this.client,
      this.logger,
      {
        stream: streams.push,
        durable: consumers.pushRelay,
        filterSubject: subjects.pushRelay,
        deadSubject: subjects.dead('push-relay'),
      },
      // In order, one at a time: a delete must not overtake the register it undoes.
      { ...options, concurrency: 1 },
    );
    this.subscriptions.push(await resolver.start((job) => this.delivery.resolve(job)));
    this.subscriptions.push(await sender.start((job) => this.delivery.send(job)));
    this.subscriptions.push(await forwarder.start((job) => this.delivery.forward(job)));
    this.logger.info({ stream: streams.push }, 'consuming push jobs');
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.subscriptions.map((subscription) => subscription.stop()));
  }
}
