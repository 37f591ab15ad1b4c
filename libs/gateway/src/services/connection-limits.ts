/** One limit: at most `max` open connections share `key` (an IP, a user…). */
export interface Limit {
  key: string;
  max: number;
}

/**
 * Counts open connections per key and admits a new one only if every limit it falls under has
 * room. Admission and release are synchronous, so concurrent upgrades cannot overshoot.
 */
export class ConnectionLimits {
  private readonly counts = new Map<string, number>();

  /** A release function, or undefined (with the limit that was full) when one limit is reached. */
  tryAcquire(limits: Limit[]): { release: () => void } | { full: Limit } {
    for (const limit of limits) {
      if ((this.counts.get(limit.key) ?? 0) >= limit.max) {
        return { full: limit };
      }
    }
    for (const limit of limits) {
      this.counts.set(limit.key, (this.counts.get(limit.key) ?? 0) + 1);
    }
    return {
      release: () => {
        for (const limit of limits) {
          const count = (this.counts.get(limit.key) ?? 1) - 1;
          if (count <= 0) this.counts.delete(limit.key);
          else this.counts.set(limit.key, count);
        }
      },
    };
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}
