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
  EVENT_CONSUMER,
  type EventConsumer,
} from '@herald/messaging';
import { ROOT_LOGGER, type Logger } from '@herald/platform';

import { type DispatcherConfig } from '../config/dispatcher.config';
import { DISPATCHER_CONFIG } from '../dispatcher.tokens';
import { DispatchService } from '../services/dispatch.service';

/**
 * The edge of the dispatcher: each vault event from the shared durable consumer `dispatcher`,
 * handed over by the broker transport, goes to the dispatch service, whose outcome the transport
 * carries out (ack, retry with backoff, dead letter).
 */
@Controller()
@UseFilters(ConsumeErrorFilter)
export class EventsConsumer {
  constructor(private readonly dispatch: DispatchService) {}

  @EventPattern(BrokerPattern.Events)
  handle(@Payload() event: ConsumedEvent): Promise<ConsumeOutcome> {
    return this.dispatch.handle(event);
  }
}

/** The dispatcher's consumer: one event at a time per process, in stream order. */
export function dispatcherConsumers(config: DispatcherConfig): BrokerTransportOptions['consumers'] {
  return {
    [BrokerPattern.Events]: {
      maxDeliver: config.HERALD_DISPATCHER_MAX_DELIVER,
      ackWaitMs: config.HERALD_DISPATCHER_ACK_WAIT,
      batch: 256,
    },
  };
}

/**
 * The dispatcher's broker transport. It starts once the app listens and, on shutdown, stops
 * pulling and lets the event in hand finish before the broker drains.
 */
export const eventsTransport: FactoryProvider<BrokerTransport> = {
  provide: BROKER_TRANSPORT,
  useFactory: (events: EventConsumer, config: DispatcherConfig, logger: Logger) =>
    new BrokerTransport({ events, consumers: dispatcherConsumers(config), logger }),
  inject: [EVENT_CONSUMER, DISPATCHER_CONFIG, ROOT_LOGGER],
};
