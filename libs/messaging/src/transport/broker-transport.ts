import { type BeforeApplicationShutdown } from '@nestjs/common';
import {
  BaseRpcContext,
  type CustomTransportStrategy,
  type MessageHandler,
  Server,
} from '@nestjs/microservices';
import { type Logger } from 'pino';
import { isObservable, lastValueFrom } from 'rxjs';

import {
  type ConsumedEvent,
  type ConsumeOutcome,
  type ConsumerOptions,
  type EventConsumer,
  type EventSubscription,
  type PushConsumer,
} from '../ports';
import { type BrokerPattern, isBrokerPattern, laneOf } from './broker-patterns';

/** The broker transport's provider: what `bootService({ transport })` connects as a microservice. */
export const BROKER_TRANSPORT = Symbol('BrokerTransport');

export interface BrokerTransportOptions {
  /** Where `events` handlers take their messages from. */
  events?: EventConsumer;
  /** Where the `push.*` handlers take theirs from. */
  push?: PushConsumer;
  /**
   * How each consumer runs, by pattern. Every `@EventPattern` handler needs an entry, and every
   * entry a handler: `listen` fails on either mismatch rather than leave a stream unconsumed.
   */
  consumers: Partial<Record<BrokerPattern, ConsumerOptions>>;
  logger: Logger;
}

/** What a handler is handed besides the message: `@Ctx()` of an `@EventPattern` handler. */
export class BrokerContext extends BaseRpcContext<[BrokerPattern, ConsumedEvent]> {
  getPattern(): BrokerPattern {
    return this.args[0];
  }

  getAttempt(): number {
    return this.args[1].attempt;
  }
}

const ACK: ConsumeOutcome = { kind: 'ack' };

/**
 * A Nest microservice transport over the broker port's competing consumers: the JetStream
 * durable pull consumers on NATS, the in-memory ones in the memory engine. Each `@EventPattern`
 * handler (patterns in `BrokerPattern`) is fed by one consumer, and its result decides:
 * - resolves with nothing (or with anything that has no `kind`): ack;
 * - resolves with a `ConsumeOutcome`: carried out as is (`retry` after its delay, `dead` with its
 *   reason to the dead-letter stream); a malformed one counts as thrown;
 * - throws: retry after 1 s with the error's message (the port's rule for a throwing handler);
 *   a retry on the last attempt is dead-lettered. With `ConsumeErrorFilter` on the controller the
 *   message is the thrown one; without it Nest's default filter has already replaced it.
 * The consumer carries the outcome out and logs it; the transport adds nothing per message.
 * `close` stops pulling and resolves once the messages in hand are decided; it runs before the
 * application shuts down (ahead of the broker draining) and again, as a no-op, when Nest closes
 * the microservice.
 */
export class BrokerTransport extends Server implements CustomTransportStrategy, BeforeApplicationShutdown {
  private readonly subscriptions: EventSubscription[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly options: BrokerTransportOptions) {
    super();
  }

  listen(callback: (error?: unknown) => void): void {
    this.startAll().then(
      () => callback(),
      (error: unknown) => callback(error),
    );
  }

  close(): Promise<void> {
    this.closing ??= Promise.all(this.subscriptions.splice(0).map((each) => each.stop())).then(() => {
      this.options.logger.info('stopped consuming');
    });
    return this.closing;
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.close();
  }

  on(): never {
    throw new Error('the broker transport emits no events');
  }

  unwrap<T>(): T {
    return { events: this.options.events, push: this.options.push } as T;
  }

  private async startAll(): Promise<void> {
    const planned = this.plan();
    try {
      for (const { pattern, options, handler } of planned) {
        const subscription = await this.start(pattern, options, (event) =>
          this.decide(pattern, handler, event),
        );
        if (this.closing) {
          // Closed while starting: what started late stops at once.
          await subscription.stop();
          return;
        }
        this.subscriptions.push(subscription);
      }
    } catch (error) {
      await Promise.all(this.subscriptions.splice(0).map((each) => each.stop()));
      throw error;
    }
    this.options.logger.info({ patterns: planned.map(({ pattern }) => pattern) }, 'consuming');
  }

  /** Pairs every handler with its consumer settings, or says which one is missing. */
  private plan(): { pattern: BrokerPattern; options: ConsumerOptions; handler: MessageHandler }[] {
    const handlers = this.getHandlers();
    for (const [pattern, handler] of handlers) {
      if (!isBrokerPattern(pattern)) throw new Error(`no broker consumer for pattern "${pattern}"`);
      if (!handler.isEventHandler) throw new Error(`"${pattern}" wants @EventPattern: nothing replies`);
      // Two handlers on one pattern would give one message two outcomes.
      if (handler.next) throw new Error(`"${pattern}" has more than one handler`);
      if (!this.options.consumers[pattern]) throw new Error(`no consumer settings for "${pattern}"`);
    }
    return Object.entries(this.options.consumers).map(([pattern, options]) => {
      const handler = handlers.get(pattern);
      if (!handler) throw new Error(`consumer settings for "${pattern}" but no handler`);
      return { pattern: pattern as BrokerPattern, options, handler };
    });
  }

  private start(
    pattern: BrokerPattern,
    options: ConsumerOptions,
    handler: (event: ConsumedEvent) => Promise<ConsumeOutcome>,
  ): Promise<EventSubscription> {
    const lane = laneOf(pattern);
    if (lane === undefined) {
      if (!this.options.events) throw new Error(`"${pattern}" needs the event consumer`);
      return this.options.events.start(options, handler);
    }
    if (!this.options.push) throw new Error(`"${pattern}" needs the push consumer`);
    return this.options.push.start(lane, options, handler);
  }

  private async decide(
    pattern: BrokerPattern,
    handler: MessageHandler,
    event: ConsumedEvent,
  ): Promise<ConsumeOutcome> {
    let result: unknown;
    try {
      const returned: unknown = await handler(event, new BrokerContext([pattern, event]));
      result = isObservable(returned) ? await lastValueFrom(returned, { defaultValue: undefined }) : returned;
    } catch (error) {
      // Nest's filters hand errors on as plain objects; the consumer wants an Error's message.
      throw error instanceof Error ? error : new Error(messageOf(error));
    }
    if (typeof result !== 'object' || result === null || !('kind' in result)) return ACK;
    if (isConsumeOutcome(result)) return result;
    // Retried (and in the end dead-lettered) rather than acked by mistake.
    throw new Error(`"${pattern}" handler returned an invalid outcome: ${JSON.stringify(result)}`);
  }
}

function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return String(error);
}

function isConsumeOutcome(outcome: { kind: unknown } & Record<string, unknown>): outcome is ConsumeOutcome {
  switch (outcome.kind) {
    case 'ack':
      return true;
    case 'retry':
      return typeof outcome.delayMs === 'number' && typeof outcome.reason === 'string';
    case 'dead':
      return typeof outcome.reason === 'string';
    default:
      return false;
  }
}
