/**
 * Remembers verified tokens until they expire, so a reconnect storm of the same tokens costs one
 * map lookup each instead of a signature check. Bounded: when full, the least recently used entry
 * goes. An entry is never returned at or after its expiry time.
 */
export class VerificationCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAtMs: number }>();

  constructor(private readonly maxEntries = 10_000) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, nowMs: number): T | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      return undefined;
    }
    this.entries.delete(key);
    if (entry.expiresAtMs <= nowMs) {
      return undefined;
    }
    // Re-inserting moves the entry to the end of the Map's insertion order: most recently used.
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: T, expiresAtMs: number, nowMs: number): void {
    if (expiresAtMs <= nowMs || this.maxEntries <= 0) {
      return;
    }
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) {
        break;
      }
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAtMs });
  }
}
