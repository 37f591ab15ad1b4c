import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

import { type DeliveryLog, type DeliverySubscriber } from '@herald/messaging';
import { ROOT_LOGGER, type Logger } from '@herald/platform';

import { DELIVERY_LOG } from '../gateway.tokens';
import { ConnectionRegistry, DELIVERY_SUBSCRIBER } from './connection-registry.service';
import { WatermarkService } from './watermark.service';

/** Deliveries read back per group after an outage; a group past this is left to its devices' replay. */
const MAX_CATCH_UP_PER_GROUP = 10_000;

/**
 * Closes the gap a NATS outage leaves in live traffic. The clients stay connected to the gateway
 * while it is cut off from NATS, so nothing would make them replay: once the link is back, every
 * group the gateway holds is read back from the watermark it had before the outage, and what
 * arrived meanwhile is delivered (the groups drop what they already had).
 */
@Injectable()
export class CatchUpService implements OnApplicationBootstrap, OnModuleDestroy {
  private stopListening: (() => void) | undefined;
  private readonly caughtUp: Counter;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly watermark: WatermarkService,
    @Inject(DELIVERY_LOG) private readonly log: DeliveryLog,
    @Inject(DELIVERY_SUBSCRIBER) private readonly subscriber: DeliverySubscriber,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.caughtUp = new Counter({
      name: 'herald_gateway_caught_up_deliveries_total',
      help: 'Deliveries read back from the log after a NATS outage',
      registers: [metrics],
    });
  }

  onApplicationBootstrap(): void {
    this.stopListening = this.subscriber.onConnectionChange((state) => {
      if (state === 'lost') {
        this.watermark.pause();
      } else {
        void this.catchUp();
      }
    });
  }

  onModuleDestroy(): void {
    this.stopListening?.();
  }

  async catchUp(): Promise<void> {
    const from = this.watermark.current;
    let read = 0;
    try {
      const { last } = await this.log.bounds();
      for (const key of this.registry.groupKeys()) {
        const subject = this.subscriber.subjectOf(key.kind, key.id);
        if ((await this.log.latestSequence(subject)) <= from) continue;
        for (const stored of await this.log.readAfter(subject, from, last, MAX_CATCH_UP_PER_GROUP)) {
          this.registry.deliverStored(key, stored.data);
          read += 1;
        }
      }
      this.caughtUp.inc(read);
      this.logger.info({ from, upTo: last, deliveries: read }, 'caught up after the NATS outage');
    } catch (error) {
      this.logger.error({ err: error, from }, 'catching up after the NATS outage failed');
    } finally {
      this.watermark.resume();
    }
  }
}
