import { Controller, type FactoryProvider, UseFilters } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';

import {
  BROKER_TRANSPORT,
  BrokerPattern,
  BrokerTransport,
  type BrokerTransportOptions,
  type ConsumedEvent,
  ConsumeErrorFilter,
  type ConsumeOutcome,
  PUSH_CONSUMER,
  type PushConsumer,
} from '@herald/messaging';
import { ROOT_LOGGER, type Logger } from '@herald/platform';

import { type PushConfig } from '../config/push.config';
import { PUSH_CONFIG } from '../push.tokens';
import { PushDeliveryService } from '../services/push-delivery.service';

/**
 * The edge of the push worker: the three lanes of PUSH, handed over by the broker transport —
 * jobs to resolve into devices, pushes to single devices, and registration changes for the relay.
 */
@Controller()
@UseFilters(ConsumeErrorFilter)
export class PushJobsConsumer {
  constructor(private readonly delivery: PushDeliveryService) {}

  @EventPattern(BrokerPattern.PushJob)
  resolve(@Payload() job: ConsumedEvent): Promise<ConsumeOutcome> {
    return this.delivery.resolve(job);
  }

  @EventPattern(BrokerPattern.PushDevice)
  send(@Payload() job: ConsumedEvent): Promise<ConsumeOutcome> {
    return this.delivery.send(job);
  }

  @EventPattern(BrokerPattern.PushRelay)
  forward(@Payload() job: ConsumedEvent): Promise<ConsumeOutcome> {
    return this.delivery.forward(job);
  }
}

/**
 * The push worker's consumers: jobs and device sends in parallel, relay registrations in order,
 * one at a time (a delete must not overtake the register it undoes).
 */
export function pushConsumers(config: PushConfig): BrokerTransportOptions['consumers'] {
  const options = { maxDeliver: config.HERALD_PUSH_MAX_ATTEMPTS, ackWaitMs: 60_000, batch: 64 };
  return {
    [BrokerPattern.PushJob]: { ...options, concurrency: 8 },
    [BrokerPattern.PushDevice]: { ...options, concurrency: config.HERALD_PUSH_CONCURRENCY },
    [BrokerPattern.PushRelay]: { ...options, concurrency: 1 },
  };
}

/**
 * The push worker's broker transport. It starts once the app listens and, on shutdown, stops
 * pulling and lets in-flight sends finish before the broker drains.
 */
export const pushJobsTransport: FactoryProvider<BrokerTransport> = {
  provide: BROKER_TRANSPORT,
  useFactory: (push: PushConsumer, config: PushConfig, logger: Logger) =>
    new BrokerTransport({ push, consumers: pushConsumers(config), logger }),
  inject: [PUSH_CONSUMER, PUSH_CONFIG, ROOT_LOGGER],
};
