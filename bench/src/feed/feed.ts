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
 * At most `limit` operations in flight: `acquire` waits for room, `release` makes it. What every
 * feed uses to bound its acknowledgements or requests outstanding.
 */
export class InFlight {
  count = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async acquire(): Promise<void> {
    while (this.count >= this.limit) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.count += 1;
  }

  release(): void {
    this.count -= 1;
    // Every waiter checks again: one woken drain() must not swallow an acquire()'s turn.
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Resolves once nothing is in flight. */
  async drained(): Promise<void> {
    while (this.count > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
