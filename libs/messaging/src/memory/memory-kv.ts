import { type Clock } from './clock';

export interface KvEntry {
  value: string;
  revision: number;
}

/** A compare-and-set write lost: the key changed since the revision the writer read. */
export class KvConflictError extends Error {
  constructor(key: string) {
    super(`wrong last revision for ${key}`);
    this.name = 'KvConflictError';
  }
}

/**
 * A KV bucket in memory with the semantics of a NATS KV bucket with history 1: every write gets a
 * new revision (one counter for the bucket), an entry expires `ttlMs` after its last write,
 * `create` and `update` are compare-and-set. Expired entries are dropped as time passes (checked
 * on every operation), so the bucket holds only live entries.
 */
export class MemoryKv {
  /** Key -> entry, in write order (a write moves the key to the end), so expiry trims the front. */
  private readonly entries = new Map<string, KvEntry & { writtenAt: number }>();
  private revision = 0;
  private lastWrittenAt = 0;

  constructor(
    readonly name: string,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  get(key: string): KvEntry | undefined {
    this.expire();
    const entry = this.entries.get(key);
    return entry && { value: entry.value, revision: entry.revision };
  }

  put(key: string, value: string): number {
    this.expire();
    return this.write(key, value);
  }

  /** Writes only if the key has no live entry. */
  create(key: string, value: string): number {
    this.expire();
    if (this.entries.has(key)) throw new KvConflictError(key);
    return this.write(key, value);
  }

  /** Writes only if the key's live entry is still at `revision`. */
  update(key: string, value: string, revision: number): number {
    this.expire();
    if (this.entries.get(key)?.revision !== revision) throw new KvConflictError(key);
    return this.write(key, value);
  }

  keys(): string[] {
    this.expire();
    return [...this.entries.keys()];
  }

  private write(key: string, value: string): number {
    this.revision += 1;
    this.lastWrittenAt = Math.max(this.lastWrittenAt, this.clock.now());
    this.entries.delete(key);
    this.entries.set(key, { value, revision: this.revision, writtenAt: this.lastWrittenAt });
    return this.revision;
  }

  private expire(): void {
    const oldest = this.clock.now() - this.ttlMs;
    for (const [key, entry] of this.entries) {
      if (entry.writtenAt > oldest) break;
      this.entries.delete(key);
    }
  }
}
