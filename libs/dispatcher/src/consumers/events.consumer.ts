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

/**
 * The dispatcher's consumer: events are taken in stream order and up to
 * `HERALD_DISPATCHER_CONCURRENCY` are in flight at once. Each event's deliveries are published
 * as soon as it is routed, without waiting for the acknowledgements of the events before it, so a
 * dispatcher is not one JetStream round trip per event; they leave in stream order on one
 * connection, so they are stored and routed in that order (unless an event is retried).
 */
export function dispatcherConsumers(config: DispatcherConfig): BrokerTransportOptions['consumers'] {
  return {
    [BrokerPattern.Events]: {
      maxDeliver: config.HERALD_DISPATCHER_MAX_DELIVER,
      ackWaitMs: config.HERALD_DISPATCHER_ACK_WAIT,
      concurrency: config.HERALD_DISPATCHER_CONCURRENCY,
      // The consumer lets four batches be unacknowledged: room for every event in flight.
      batch: Math.max(256, config.HERALD_DISPATCHER_CONCURRENCY),
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
