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

  /**
   * A release function, or the limit that was full. Releasing frees the one place this admission
   * took under each limit; calling it again does nothing, so a connection whose end is reported
   * twice (socket close and upgrade failure) cannot free another connection's place.
   */
  tryAcquire(limits: Limit[]): { release: () => void } | { full: Limit } {
    for (const limit of limits) {
      if ((this.counts.get(limit.key) ?? 0) >= limit.max) {
        return { full: limit };
      }
    }
    for (const limit of limits) {
      this.counts.set(limit.key, (this.counts.get(limit.key) ?? 0) + 1);
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
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
