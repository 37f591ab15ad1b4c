/**
 * At most `max` unsuccessful attempts per key within `windowMs` (from the window's first attempt).
 * An attempt is reserved before it is checked and given back when it succeeds, so attempts that
 * run at the same time are counted as they start: `max` concurrent guesses take the whole window's
 * allowance, never more. Bounded in memory: past `maxKeys` keys the oldest is forgotten.
 */
export class FailureLimiter {
  private readonly attempts = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes one attempt for `key`; false (take none) when the window's allowance is used up. */
  reserve(key: string): boolean {
    const entry = this.current(key);
    if (entry) {
      if (entry.count >= this.max) return false;
      entry.count += 1;
      return true;
    }
    if (this.attempts.size >= this.maxKeys) this.attempts.delete(this.attempts.keys().next().value!);
    this.attempts.set(key, { count: 1, since: this.now() });
    return true;
  }

  /** Gives back an attempt that succeeded: only failures count. */
  release(key: string): void {
    const entry = this.current(key);
    if (entry && entry.count > 0) entry.count -= 1;
  }

  private current(key: string): { count: number; since: number } | undefined {
    const entry = this.attempts.get(key);
    if (entry && this.now() - entry.since >= this.windowMs) {
      this.attempts.delete(key);
      return undefined;
    }
    return entry;
  }
}
