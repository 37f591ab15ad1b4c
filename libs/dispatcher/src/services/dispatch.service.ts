import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

import { eventCodec, nextTraceparent, traceIdOf, ValidationError } from '@herald/contracts';
import {
  type ConsumedEvent,
  type ConsumeOutcome,
  DELIVERY_PUBLISHER,
  type DeliveryPublisher,
  PUSH_QUEUE,
  type PushQueue,
} from '@herald/messaging';
import { InjectLogger, type Logger } from '@herald/platform';

import { pushJobsOf, route, unroutableReason } from './routing';

/** Backoff between attempts of an event whose deliveries could not be published. */
export function retryDelayMs(attempt: number): number {
  return Math.min(500 * 2 ** Math.max(0, attempt - 1), 30_000);
}

/**
 * Decides what happens to one consumed event: invalid, or of an unknown type that names nobody ->
 * dead letter (never redelivered); valid ->
 * every delivery published (durably) before the ack; a failed publish -> retry with backoff.
 */
@Injectable()
export class DispatchService {
  private readonly outcomes: Counter<'outcome'>;
  private readonly deliveries: Counter<'kind'>;

  constructor(
    @Inject(DELIVERY_PUBLISHER) private readonly publisher: DeliveryPublisher,
    @Inject(PUSH_QUEUE) private readonly pushQueue: PushQueue,
    @InjectLogger('DispatchService') private readonly logger: Logger,
    registry: Registry,
  ) {
    this.outcomes = new Counter({
      name: 'herald_dispatcher_events_total',
      help: 'Events consumed, by outcome (routed, retried, dead)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.deliveries = new Counter({
      name: 'herald_dispatcher_deliveries_published_total',
      help: 'Deliveries published, by target kind',
      labelNames: ['kind'],
      registers: [registry],
    });
  }

  async handle(consumed: ConsumedEvent): Promise<ConsumeOutcome> {
    let event;
    try {
      event = eventCodec.decode(consumed.data);
    } catch (error) {
      if (error instanceof ValidationError) {
        this.outcomes.inc({ outcome: 'dead' });
        return { kind: 'dead', reason: `invalid event: ${error.message}` };
      }
      throw error;
    }
    const unroutable = unroutableReason(event);
    if (unroutable !== undefined) {
      this.outcomes.inc({ outcome: 'dead' });
      return { kind: 'dead', reason: unroutable };
    }
    const routed = route(event, consumed.sequence);
    const pushJobs = pushJobsOf(event);
    const traceparent = nextTraceparent(consumed.traceparent);
    try {
      await Promise.all([
        ...routed.map((item) => this.publisher.publish(item.kind, item.id, item.delivery, traceparent)),
        ...pushJobs.map((job) => this.pushQueue.publishJob(job, traceparent)),
      ]);
    } catch (error) {
      this.outcomes.inc({ outcome: 'retried' });
      const reason = error instanceof Error ? error.message : String(error);
      return { kind: 'retry', delayMs: retryDelayMs(consumed.attempt), reason };
    }
    for (const item of routed) this.deliveries.inc({ kind: item.kind });
    this.deliveries.inc({ kind: 'push' }, pushJobs.length);
    this.outcomes.inc({ outcome: 'routed' });
    this.logger.debug(
      {
        eventId: event.id,
        type: event.type,
        deliveries: routed.length,
        pushJobs: pushJobs.length,
        traceId: traceIdOf(traceparent),
      },
      'event routed',
    );
    return { kind: 'ack' };
  }
}
