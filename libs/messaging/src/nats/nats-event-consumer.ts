import { AckPolicy, type ConsumerConfig, DeliverPolicy, type JsMsg, headers, nanos } from 'nats';
import { type Logger } from 'pino';

import { DEAD_LETTER_REASON_HEADER } from '@herald/contracts';

import { type ConsumedEvent, type ConsumeOutcome, type EventSubscription } from '../ports';
import { type NatsClient } from './nats-client';
import { traceparentOf } from './trace-headers';
import { answered, isNotFound } from './topology';

export interface EventConsumerOptions {
  /** Deliveries of one event before it is dead-lettered. */
  maxDeliver: number;
  /** How long a taken event may stay unacknowledged before another consumer gets it. */
  ackWaitMs: number;
  /** Events pulled at a time. */
  batch: number;
}

export const DEFAULT_EVENT_CONSUMER: EventConsumerOptions = { maxDeliver: 10, ackWaitMs: 30_000, batch: 256 };

/**
 * How long one pull request waits for messages. It also paces recovery: the client takes a pull
 * as lost after two missed idle heartbeats (half of this each), and while the consumer does not
 * answer (its leader died with a NATS node and the cluster is electing another) it asks again
 * once per this interval. nats.js's default of 30 s left a dispatcher idle for half a minute or
 * more after a node failure; 5 s costs an idle consumer one small request every 5 s.
 */
export const PULL_EXPIRES_MS = 5_000;

/** Which durable consumer of which stream, and where its dead letters go. */
export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  deadSubject: string;
}

export function dispatcherConsumerSpec(names: NatsClient['names']): ConsumerSpec {
  return {
    stream: names.streams.events,
    durable: names.consumers.dispatcher,
    filterSubject: names.subjects.eventsAll,
    deadSubject: names.subjects.dead('events'),
  };
}

/** Creates or updates a shared durable consumer, idempotently. */
export async function ensureConsumer(
  client: NatsClient,
  spec: ConsumerSpec,
  options: EventConsumerOptions,
): Promise<void> {
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: spec.filterSubject,
    ack_wait: nanos(options.ackWaitMs),
    max_deliver: options.maxDeliver,
    max_ack_pending: options.batch * 4,
  };
  await answered(async () => {
    try {
      await client.manager.consumers.info(spec.stream, spec.durable);
      await client.manager.consumers.update(spec.stream, spec.durable, config);
    } catch (error) {
      if (!isNotFound(error)) {
        throw error;
      }
      await client.manager.consumers.add(spec.stream, config);
    }
  });
}

/** The durable consumer every dispatcher shares, created or updated idempotently. */
export function ensureDispatcherConsumer(client: NatsClient, options: EventConsumerOptions): Promise<void> {
  return ensureConsumer(client, dispatcherConsumerSpec(client.names), options);
}

/**
 * Runs a handler over a shared durable consumer. With `concurrency` 1 (the default) messages are
 * handled one at a time, in stream order; more lets independent work (pushes) overlap. The
 * handler decides; this class carries it out and logs once per decision that is not a plain ack.
 */
export class NatsStreamConsumer {
  constructor(
    private readonly client: NatsClient,
    private readonly logger: Logger,
    private readonly spec: ConsumerSpec,
    private readonly options: EventConsumerOptions & { concurrency?: number },
  ) {}

  async start(handler: (event: ConsumedEvent) => Promise<ConsumeOutcome>): Promise<EventSubscription> {
    await ensureConsumer(this.client, this.spec, this.options);
    const consumer = await this.client.jetstream.consumers.get(this.spec.stream, this.spec.durable);
    const messages = await consumer.consume({ max_messages: this.options.batch, expires: PULL_EXPIRES_MS });
    const limit = Math.max(1, this.options.concurrency ?? 1);
    const inFlight = new Set<Promise<void>>();
    const loop = (async () => {
      for await (const message of messages) {
        const work = this.process(message, handler).finally(() => inFlight.delete(work));
        inFlight.add(work);
        if (inFlight.size >= limit) await Promise.race(inFlight);
      }
    })();
    return {
      stop: async () => {
        await messages.close();
        await loop;
        await Promise.all(inFlight);
      },
    };
  }

  private async process(
    message: JsMsg,
    handler: (event: ConsumedEvent) => Promise<ConsumeOutcome>,
  ): Promise<void> {
    const event: ConsumedEvent = {
      data: message.data,
      attempt: message.info.redeliveryCount,
      sequence: message.seq,
      subject: message.subject,
      traceparent: traceparentOf(message),
    };
    let outcome: ConsumeOutcome;
    try {
      outcome = await handler(event);
    } catch (error) {
      outcome = {
        kind: 'retry',
        delayMs: 1000,
        reason: error instanceof Error ? error.message : String(error),
      };
    }
    if (outcome.kind === 'retry' && event.attempt >= this.options.maxDeliver) {
      outcome = { kind: 'dead', reason: `gave up after ${event.attempt} attempts: ${outcome.reason}` };
    }
    switch (outcome.kind) {
      case 'ack':
        // The acks of every event finished in this turn leave in one socket write.
        await this.client.nextTurn();
        message.ack();
        return;
      case 'retry':
        this.logger.warn(
          { sequence: event.sequence, attempt: event.attempt, reason: outcome.reason },
          'event will be retried',
        );
        message.nak(outcome.delayMs);
        return;
      case 'dead':
        await this.deadLetter(message, outcome.reason);
        return;
    }
  }

  private async deadLetter(message: JsMsg, reason: string): Promise<void> {
    const header = headers();
    header.set(DEAD_LETTER_REASON_HEADER, reason.slice(0, 1024));
    header.set('Herald-Original-Subject', message.subject);
    header.set('Herald-Original-Sequence', String(message.seq));
    try {
      await this.client.jetstream.publish(this.spec.deadSubject, message.data, {
        headers: header,
      });
      message.term();
      this.logger.error({ sequence: message.seq, subject: message.subject, reason }, 'event dead-lettered');
    } catch (error) {
      // The dead-letter stream is unreachable: leave the event to be redelivered rather than lose it.
      this.logger.error(
        { err: error, sequence: message.seq },
        'dead-lettering failed; event will be redelivered',
      );
      message.nak(5000);
    }
  }
}

/** The dispatchers' consumer of EVENTS: one event at a time per process, in stream order. */
export class NatsEventConsumer extends NatsStreamConsumer {
  constructor(client: NatsClient, logger: Logger, options: EventConsumerOptions) {
    super(client, logger, dispatcherConsumerSpec(client.names), options);
  }
}
