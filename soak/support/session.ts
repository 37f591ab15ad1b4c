import { type PublishedEvent, type Recipient, isMeantFor, methodOf } from './routing-oracle';

/** An event the test published, with the id (`Payload.SoakId`) every copy of it carries. */
export interface SoakEvent extends PublishedEvent {
  soakId: string;
}

export interface ReceivedMessage {
  ContextId?: unknown;
  Type?: unknown;
  Payload?: Record<string, unknown>;
}

/** Totals over every session of a run. */
export class Tally {
  deliveries = 0;
  leaks = 0;
  readonly leakSamples: string[] = [];
  duplicates = 0;
  /** Messages whose ContextId was the receiving device's own: Bitwarden clients ignore them. */
  ownContext = 0;
  /** Gateway-made SyncVaults (a replay that overflowed). */
  syncVaults = 0;
  /** Meant for the session, but published while it was not live: replays and boundary cases. */
  unexpectedButMeant = 0;
  expected = 0;
  lost = 0;
  readonly lostSamples: string[] = [];
  /** Expected deliveries not yet received, over live sessions: the publishers' brake. */
  outstanding = 0;

  leak(description: string): void {
    this.leaks += 1;
    if (this.leakSamples.length < 10) this.leakSamples.push(description);
  }
}

/**
 * One connection of one device or auth-request waiter, from handshake to close: what it should
 * receive (every event meant for it that was published while it was live) and what it did receive,
 * each arrival checked against the routing rules on the spot.
 */
export class Session {
  state: 'connecting' | 'live' | 'ending' | 'closed' = 'connecting';
  /** Soak ids this session must receive. */
  readonly expected = new Set<string>();
  /** Arrivals per soak id. */
  readonly received = new Map<string, number>();
  closedByServer = false;
  private waiters: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly recipient: Recipient,
    readonly label: string,
    private readonly registry: ReadonlyMap<string, SoakEvent>,
    private readonly tally: Tally,
  ) {}

  /** Whether the routing rules send `event` to this connection. */
  expectsEvent(event: SoakEvent): boolean {
    return isMeantFor(event, this.recipient);
  }

  /** Called at publish time for every live session the event is meant for. */
  expect(soakId: string): void {
    this.expected.add(soakId);
    this.tally.expected += 1;
    this.tally.outstanding += 1;
  }

  /** The publish failed: nothing can be asked of the session for it. */
  unexpect(soakId: string): void {
    if (!this.expected.delete(soakId)) return;
    this.tally.expected -= 1;
    if (this.state !== 'closed' && !this.received.has(soakId)) this.tally.outstanding -= 1;
  }

  /** Every invocation the connection receives. */
  receive(target: string, argument: unknown): void {
    if (target === 'Heartbeat') return;
    this.tally.deliveries += 1;
    const message = (argument ?? {}) as ReceivedMessage;
    const payload = message.Payload ?? {};
    const soakId = payload.SoakId;
    const where = `${this.label} got ${target} Type=${String(message.Type)}`;
    if (typeof soakId !== 'string') {
      const ownSyncVault =
        this.recipient.hub === 'user' &&
        target === 'ReceiveMessage' &&
        message.Type === 5 &&
        payload.UserId === this.recipient.userId &&
        message.ContextId === null;
      if (ownSyncVault) this.tally.syncVaults += 1;
      else this.tally.leak(`${where}: a message the test never published ${JSON.stringify(payload)}`);
      this.settle();
      return;
    }
    const event = this.registry.get(soakId);
    if (!event) {
      this.tally.leak(`${where}: SoakId ${soakId} was never published`);
    } else if (target !== methodOf(event)) {
      this.tally.leak(`${where}: event ${soakId} (type ${event.type}) on the wrong hub method`);
    } else if (!isMeantFor(event, this.recipient)) {
      this.tally.leak(
        `${where}: event ${soakId} is not for it: ${JSON.stringify(event.payload)} → ${describe(this.recipient)}`,
      );
    } else if (message.Type !== event.type || (message.ContextId ?? null) !== event.contextId) {
      this.tally.leak(`${where}: event ${soakId} altered (ContextId ${String(message.ContextId)})`);
    }
    const count = (this.received.get(soakId) ?? 0) + 1;
    this.received.set(soakId, count);
    if (count > 1) this.tally.duplicates += 1;
    else if (this.expected.has(soakId)) {
      if (this.state !== 'closed') this.tally.outstanding -= 1;
    } else if (event && isMeantFor(event, this.recipient)) this.tally.unexpectedButMeant += 1;
    if (this.recipient.hub === 'user' && message.ContextId === this.recipient.deviceId) {
      this.tally.ownContext += 1;
    }
    this.settle();
  }

  /** Expected events not received yet. */
  missing(): string[] {
    return [...this.expected].filter((soakId) => !this.received.has(soakId));
  }

  /**
   * Resolves once `done()` holds, re-checked on every arrival, or after `timeoutMs` (a deadline
   * for a delivery that never comes, not a measurement): true when it held.
   */
  until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        resolve(done());
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        resolve(true);
      };
      this.waiters.push(check);
    });
  }

  /** The session is gone without its final check (dropped on purpose, or by the server). */
  abandon(): void {
    if (this.state === 'closed') return;
    this.tally.outstanding -= this.missing().length;
    this.state = 'closed';
  }

  /** After the final check: counts what never arrived. */
  finish(): void {
    if (this.state === 'closed') return;
    const missing = this.missing();
    this.tally.lost += missing.length;
    this.tally.outstanding -= missing.length;
    for (const soakId of missing.slice(0, Math.max(0, 10 - this.tally.lostSamples.length))) {
      const event = this.registry.get(soakId);
      this.tally.lostSamples.push(
        `${this.label} never got event ${soakId} (type ${event?.type}) ${JSON.stringify(event?.payload)}`,
      );
    }
    this.state = 'closed';
  }

  private settle(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

function describe(recipient: Recipient): string {
  return recipient.hub === 'anonymous'
    ? `waiter on ${recipient.token}`
    : `user ${recipient.userId} device ${recipient.deviceId} client type ${recipient.clientType} orgs [${[...recipient.organizationIds].join(',')}]`;
}
