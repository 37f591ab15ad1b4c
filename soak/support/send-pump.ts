import { randomUUID } from 'node:crypto';

import { postCipherUpdate } from '@herald/testing';

import { type CaseLedger, type SentEvent } from './ledger';

/**
 * The vault API of a soak: posts SyncCipherUpdate events to a gateway's `/send` (internal token),
 * one every `paceMs` round robin over the users while running, whatever the answers, and records
 * each in the current case's ledger with its status. `/send` answers 200 only once JetStream
 * stored the event: those are the accepted events every target must receive.
 */
export class SendPump {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private next = 0;

  constructor(
    private readonly sendUrl: () => string,
    private readonly token: string,
    private readonly users: string[],
    private readonly paceMs: number,
  ) {}

  /** Starts the stream of events into `ledger`. */
  start(ledger: CaseLedger): void {
    if (this.timer) throw new Error('the pump is already running');
    this.timer = setInterval(() => {
      const userId = this.users[this.next++ % this.users.length]!;
      void this.send(ledger, userId);
    }, this.paceMs);
  }

  /** Stops the stream and waits for every request still in flight to be answered. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** One event for each of `users` at once (default: all); resolves when all were answered. */
  async round(ledger: CaseLedger, users = this.users): Promise<SentEvent[]> {
    return Promise.all(users.map((userId) => this.send(ledger, userId)));
  }

  /** Posts one event to `userId`, recorded in `ledger`. */
  async send(ledger: CaseLedger, userId: string): Promise<SentEvent> {
    const event: SentEvent = { id: randomUUID(), userId, startedAt: performance.now() };
    ledger.events.push(event);
    const posted = this.post(event);
    this.inFlight.add(posted);
    try {
      await posted;
    } finally {
      this.inFlight.delete(posted);
    }
    return event;
  }

  private async post(event: SentEvent): Promise<void> {
    try {
      event.status = await postCipherUpdate(this.sendUrl(), this.token, event);
    } finally {
      event.endedAt = performance.now();
    }
  }
}
