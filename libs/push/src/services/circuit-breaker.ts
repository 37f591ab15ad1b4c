/**
 * Stops hammering a provider that is down: after `threshold` consecutive transient failures the
 * circuit opens for `openMs`, during which sends are not attempted (they are retried later);
 * then one attempt is let through (half-open), and a success closes the circuit again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until an attempt is allowed; 0 means go ahead. */
  blockedFor(): number {
    const remaining = this.openUntil - this.now();
    if (remaining > 0) return remaining;
    if (this.failures >= this.threshold) {
      if (this.probing) return Math.max(1000, this.openMs / 10);
      this.probing = true;
    }
    return 0;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.probing = false;
  }

  recordFailure(): void {
    this.failures += 1;
    this.probing = false;
    if (this.failures >= this.threshold) this.openUntil = this.now() + this.openMs;
  }

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.failures < this.threshold) return 'closed';
    return this.openUntil > this.now() ? 'open' : 'half-open';
  }
}

/** At most `limit` sends to one provider (or one Web Push origin) at a time. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Runs `work` in a slot, waiting for one if all are taken. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    // A freed slot is handed straight to the first waiter: were it released and taken again, a
    // caller arriving before the waiter resumes would take it too, and one more would run.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    return this.holding(work);
  }

  /** Runs `work` if a slot is free now; undefined, and nothing run, when every slot is taken. */
  tryRun<T>(work: () => Promise<T>): Promise<T> | undefined {
    if (this.active >= this.limit) return undefined;
    this.active += 1;
    return this.holding(work);
  }

  /** Work is running (or waiting: there are waiters only while every slot is taken). */
  get busy(): boolean {
    return this.active > 0;
  }

  private async holding<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}
