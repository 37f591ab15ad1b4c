import { type Group } from '../population';

/**
 * How a scenario gets notifications to the server under test: deliveries on NATS (as the
 * dispatcher publishes them), events on NATS (as a vault API's HeraldPublisher does) or events
 * posted to `/send`. Each bounds what it has in flight itself.
 */
export interface Feed {
  /** Messages the broker or the server accepted so far (acknowledged, or answered 200). */
  readonly published: number;
  /** Sends one notification to `group`; resolves at once unless too much is in flight. */
  publish(group: Group): Promise<void>;
  /** Waits until nothing is in flight; throws if anything was refused. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** What a feed is fed from: the next group to notify, endlessly. */
export interface Targets {
  next(): Group;
}

/**
 * At most `limit` operations in flight, and what became of them: `acquire` waits for room, `track`
 * counts an operation once it settles (accepted when it resolves, refused when it rejects) and
 * makes room. What every feed uses to bound its acknowledgements or requests outstanding.
 */
export class InFlight {
  count = 0;
  accepted = 0;
  refused = 0;
  private lastRefusal: string | undefined;
  private waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async acquire(): Promise<void> {
    while (this.count >= this.limit) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.count += 1;
  }

  /** Takes an operation started after `acquire`; never rejects (a refusal is counted). */
  track(operation: Promise<unknown>): void {
    operation
      .then(
        () => {
          this.accepted += 1;
        },
        (error: unknown) => {
          this.refused += 1;
          this.lastRefusal = error instanceof Error ? error.message : String(error);
        },
      )
      .finally(() => this.release());
  }

  /** Resolves once nothing is in flight. */
  async drained(): Promise<void> {
    while (this.count > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once nothing is in flight; throws if anything was refused, naming `what` it was. */
  async settled(what: string): Promise<void> {
    await this.drained();
    if (this.refused > 0) throw new Error(`${this.refused} ${what}: ${this.lastRefusal}`);
  }

  private release(): void {
    this.count -= 1;
    // Every waiter checks again: one woken drain() must not swallow an acquire()'s turn.
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
