/**
 * State kept per key (a Web Push origin) for keys that come and go: created on first use, dropped
 * once unused for `idleMs`, and past `maxEntries` the least recently used go first. An entry with
 * work in flight (`busy`) is never dropped, so a limit it holds cannot be lost and doubled.
 */
export class BoundedRegistry<V> {
  /** In order of last use, the least recent first (a used entry is moved to the end). */
  private readonly entries = new Map<string, { value: V; usedAt: number }>();

  constructor(
    private readonly options: {
      create: () => V;
      busy: (value: V) => boolean;
      maxEntries: number;
      idleMs: number;
      now?: () => number;
    },
  ) {}

  get(key: string): V {
    const now = (this.options.now ?? Date.now)();
    const entry = this.entries.get(key) ?? { value: this.options.create(), usedAt: now };
    entry.usedAt = now;
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.prune(now, key);
    return entry.value;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops from the least recently used end while entries are expired or too many; busy ones stay. */
  private prune(now: number, current: string): void {
    for (const [key, entry] of this.entries) {
      const expired = now - entry.usedAt >= this.options.idleMs;
      if (!expired && this.entries.size <= this.options.maxEntries) return;
      if (key !== current && !this.options.busy(entry.value)) this.entries.delete(key);
    }
  }
}
