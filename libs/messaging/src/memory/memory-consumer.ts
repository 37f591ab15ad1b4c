import { type Logger } from 'pino';

import { DEAD_LETTER_REASON_HEADER } from '@herald/contracts';

import {
  type ConsumedEvent,
  type ConsumeHandler,
  type ConsumeOutcome,
  type ConsumerOptions,
  type EventSubscription,
} from '../ports';
import { unrefTimer } from './clock';
import { type MemoryStream, type StoredMessage } from './memory-stream';
import { TRACEPARENT_HEADER } from './memory-headers';

/** Which messages of which stream a durable consumer hands out, and where it dead-letters. */
export interface DurableSpec {
  stream: MemoryStream;
  filterSubject: string;
  dead: MemoryStream;
  deadSubject: string;
  /** Work-queue retention: a decided message leaves the stream. */
  workQueue: boolean;
}

interface Subscriber {
  handler: ConsumeHandler;
  concurrency: number;
  inFlight: number;
  stopped: boolean;
  idle: (() => void)[];
}

interface Outstanding {
  attempt: number;
  /** Tells this hand-out from a later one of the same message. */
  token: number;
  timer: NodeJS.Timeout;
}

/**
 * One shared durable consumer in memory (what a JetStream durable pull consumer is): every `start`
 * competes for the same messages, each handed to one subscriber at a time, round-robin among
 * those with room. A message is outstanding from hand-out until its handler's outcome is carried
 * out, or until `ackWaitMs` passes without one (then it is handed out again). Retried messages are
 * handed out again after their delay, ahead of new ones.
 */
export class MemoryDurableConsumer {
  private options: ConsumerOptions = { maxDeliver: 10, ackWaitMs: 30_000, batch: 1 };
  /** Highest stream sequence handed out for the first time. */
  private cursor = 0;
  /** Handed-out count per message not yet finished. */
  private readonly attempts = new Map<number, number>();
  private readonly outstanding = new Map<number, Outstanding>();
  /** Messages due for another hand-out, in the order they became due. */
  private readonly ready: number[] = [];
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly subscribers: Subscriber[] = [];
  private turn = 0;
  private tokens = 0;
  private pumping = false;
  private closed = false;
  private readonly stopListening: () => void;

  constructor(
    private readonly spec: DurableSpec,
    private readonly logger: Logger | undefined,
  ) {
    this.stopListening = spec.stream.onAppend(() => this.pump());
  }

  start(options: ConsumerOptions, handler: ConsumeHandler): Promise<EventSubscription> {
    // Like a durable consumer's config: the latest start's settings apply to all.
    this.options = options;
    const subscriber: Subscriber = {
      handler,
      concurrency: Math.max(1, options.concurrency ?? 1),
      inFlight: 0,
      stopped: false,
      idle: [],
    };
    this.subscribers.push(subscriber);
    this.pump();
    return Promise.resolve({
      stop: async () => {
        subscriber.stopped = true;
        const index = this.subscribers.indexOf(subscriber);
        if (index >= 0) this.subscribers.splice(index, 1);
        if (subscriber.inFlight > 0) {
          await new Promise<void>((resolve) => subscriber.idle.push(resolve));
        }
      },
    });
  }

  /** Drops every timer; outstanding messages stay outstanding (the process is going away). */
  close(): void {
    this.closed = true;
    this.stopListening();
    for (const { timer } of this.outstanding.values()) clearTimeout(timer);
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
  }

  /** Hands out as many messages as subscribers have room for. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      for (;;) {
        const subscriber = this.nextWithRoom();
        if (!subscriber) return;
        const message = this.nextMessage();
        if (!message) return;
        this.handOut(subscriber, message);
      }
    } finally {
      this.pumping = false;
    }
  }

  private nextWithRoom(): Subscriber | undefined {
    for (let tried = 0; tried < this.subscribers.length; tried += 1) {
      this.turn = (this.turn + 1) % this.subscribers.length;
      const subscriber = this.subscribers[this.turn]!;
      if (!subscriber.stopped && subscriber.inFlight < subscriber.concurrency) return subscriber;
    }
    return undefined;
  }

  private nextMessage(): StoredMessage | undefined {
    while (this.ready.length > 0) {
      const sequence = this.ready.shift()!;
      const message = this.spec.stream.get(sequence);
      if (message) return message;
      this.attempts.delete(sequence); // trimmed from the stream while waiting
    }
    const fresh = this.spec.stream.nextMatching(this.spec.filterSubject, this.cursor);
    if (fresh) this.cursor = fresh.sequence;
    return fresh;
  }

  private handOut(subscriber: Subscriber, message: StoredMessage): void {
    const attempt = (this.attempts.get(message.sequence) ?? 0) + 1;
    this.attempts.set(message.sequence, attempt);
    const token = (this.tokens += 1);
    const timer = unrefTimer(this.options.ackWaitMs, () => this.ackWaitPassed(message.sequence, token));
    this.outstanding.set(message.sequence, { attempt, token, timer });
    subscriber.inFlight += 1;
    const event: ConsumedEvent = {
      data: message.data,
      attempt,
      sequence: message.sequence,
      subject: message.subject,
      traceparent: message.headers[TRACEPARENT_HEADER],
    };
    void this.run(subscriber, message, event, token);
  }

  private async run(
    subscriber: Subscriber,
    message: StoredMessage,
    event: ConsumedEvent,
    token: number,
  ): Promise<void> {
    let outcome: ConsumeOutcome;
    try {
      await Promise.resolve(); // never call a handler inside the pump
      outcome = await subscriber.handler(event);
    } catch (error) {
      outcome = {
        kind: 'retry',
        delayMs: 1000,
        reason: error instanceof Error ? error.message : String(error),
      };
    }
    this.settle(message, event.attempt, token, outcome);
    subscriber.inFlight -= 1;
    if (subscriber.inFlight === 0) for (const resolve of subscriber.idle.splice(0)) resolve();
    this.pump();
  }

  private settle(message: StoredMessage, attempt: number, token: number, outcome: ConsumeOutcome): void {
    const current = this.outstanding.get(message.sequence);
    // Decided too late: the message was handed out again after its ack wait.
    if (current?.token !== token) return;
    clearTimeout(current.timer);
    this.outstanding.delete(message.sequence);
    if (outcome.kind === 'retry' && attempt >= this.options.maxDeliver) {
      outcome = { kind: 'dead', reason: `gave up after ${attempt} attempts: ${outcome.reason}` };
    }
    switch (outcome.kind) {
      case 'ack':
        this.finish(message.sequence);
        return;
      case 'retry': {
        this.logger?.warn(
          { sequence: message.sequence, attempt, reason: outcome.reason },
          'event will be retried',
        );
        const timer = unrefTimer(outcome.delayMs, () => {
          this.retryTimers.delete(timer);
          this.ready.push(message.sequence);
          this.pump();
        });
        this.retryTimers.add(timer);
        return;
      }
      case 'dead':
        this.deadLetter(message, outcome.reason);
        return;
    }
  }

  private ackWaitPassed(sequence: number, token: number): void {
    const current = this.outstanding.get(sequence);
    if (current?.token !== token || this.closed) return;
    this.outstanding.delete(sequence);
    if (current.attempt >= this.options.maxDeliver) {
      // NATS would stop handing it out and leave it unacknowledged; here it is dead-lettered.
      const message = this.spec.stream.get(sequence);
      if (message) this.deadLetter(message, `no decision after ${current.attempt} attempts`);
      else this.attempts.delete(sequence);
      return;
    }
    this.ready.push(sequence);
    this.pump();
  }

  private deadLetter(message: StoredMessage, reason: string): void {
    this.spec.dead.append(this.spec.deadSubject, message.data, {
      headers: {
        [DEAD_LETTER_REASON_HEADER]: reason.slice(0, 1024),
        'Herald-Original-Subject': message.subject,
        'Herald-Original-Sequence': String(message.sequence),
      },
    });
    this.logger?.error(
      { sequence: message.sequence, subject: message.subject, reason },
      'event dead-lettered',
    );
    this.finish(message.sequence);
  }

  private finish(sequence: number): void {
    this.attempts.delete(sequence);
    if (this.spec.workQueue) this.spec.stream.remove(sequence);
  }
}
