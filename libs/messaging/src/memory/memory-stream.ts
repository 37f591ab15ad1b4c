import { type Clock } from './clock';
import { subjectMatches } from './subjects';

/** The limits of one stream; what is beyond them is dropped from the front (oldest first). */
export interface StreamLimits {
  maxAgeMs: number;
  maxMessages: number;
  /** Appends with a message id seen within this window are stored once. 0: no deduplication. */
  duplicateWindowMs: number;
}

export interface StoredMessage {
  sequence: number;
  subject: string;
  data: Uint8Array;
  headers: Readonly<Record<string, string>>;
  storedAt: number;
}

export interface StreamAppend {
  sequence: number;
  duplicate: boolean;
}

/**
 * One stream in memory: sequences grow by one per stored message and are never reused; appends
 * with a recently seen message id are stored once; messages older than `maxAgeMs` or beyond
 * `maxMessages` are trimmed from the front before every read and after every append.
 */
export class MemoryStream {
  /** Ascending by sequence; work-queue acks may leave gaps. */
  private readonly messages: StoredMessage[] = [];
  private last = 0;
  private lastStoredAt = 0;
  private readonly lastBySubject = new Map<string, number>();
  /** Message id -> sequence and time, in insertion (= time) order. */
  private readonly recentIds = new Map<string, { sequence: number; at: number }>();
  private readonly listeners = new Set<(message: StoredMessage) => void>();

  constructor(
    readonly name: string,
    private readonly limits: StreamLimits,
    private readonly clock: Clock,
  ) {}

  append(
    subject: string,
    data: Uint8Array,
    options: { msgId?: string; headers?: Record<string, string> } = {},
  ): StreamAppend {
    const now = Math.max(this.clock.now(), this.lastStoredAt);
    this.forgetOldIds(now);
    if (options.msgId !== undefined && this.limits.duplicateWindowMs > 0) {
      const seen = this.recentIds.get(options.msgId);
      if (seen) return { sequence: seen.sequence, duplicate: true };
    }
    this.last += 1;
    this.lastStoredAt = now;
    const message: StoredMessage = {
      sequence: this.last,
      subject,
      data,
      headers: { ...options.headers },
      storedAt: now,
    };
    this.messages.push(message);
    this.lastBySubject.set(subject, message.sequence);
    if (options.msgId !== undefined && this.limits.duplicateWindowMs > 0) {
      this.recentIds.set(options.msgId, { sequence: message.sequence, at: now });
    }
    this.trim();
    for (const listener of [...this.listeners]) listener(message);
    return { sequence: message.sequence, duplicate: false };
  }

  /** First and last sequence as NATS reports them: {0, 0} before anything was stored, first > last when empty. */
  bounds(): { first: number; last: number } {
    this.trim();
    if (this.last === 0) return { first: 0, last: 0 };
    return { first: this.messages[0]?.sequence ?? this.last + 1, last: this.last };
  }

  get(sequence: number): StoredMessage | undefined {
    this.trim();
    const index = this.indexAfter(sequence - 1);
    const message = this.messages[index];
    return message?.sequence === sequence ? message : undefined;
  }

  /** Sequence of the newest message kept on exactly `subject`, 0 if none. */
  lastOn(subject: string): number {
    this.trim();
    return this.lastBySubject.get(subject) ?? 0;
  }

  /** The oldest kept message above `after` whose subject matches `filter` (NATS wildcards). */
  nextMatching(filter: string, after: number): StoredMessage | undefined {
    this.trim();
    for (let index = this.indexAfter(after); index < this.messages.length; index += 1) {
      const message = this.messages[index]!;
      if (subjectMatches(filter, message.subject)) return message;
    }
    return undefined;
  }

  /** Kept messages on `filter` above `after` and at most `upTo`, oldest first, at most `limit`. */
  read(filter: string, after: number, upTo: number, limit: number): StoredMessage[] {
    this.trim();
    const found: StoredMessage[] = [];
    for (let index = this.indexAfter(after); index < this.messages.length; index += 1) {
      const message = this.messages[index]!;
      if (message.sequence > upTo || found.length >= limit) break;
      if (subjectMatches(filter, message.subject)) found.push(message);
    }
    return found;
  }

  /** Kept messages by subject (what NATS reports as a stream's subject counts). */
  countsBySubject(): Map<string, number> {
    this.trim();
    const counts = new Map<string, number>();
    for (const message of this.messages) counts.set(message.subject, (counts.get(message.subject) ?? 0) + 1);
    return counts;
  }

  /** Removes one message (a work queue's acked job). */
  remove(sequence: number): void {
    const index = this.indexAfter(sequence - 1);
    const message = this.messages[index];
    if (message?.sequence !== sequence) return;
    this.messages.splice(index, 1);
    this.forgetSubjectOf(message);
  }

  onAppend(listener: (message: StoredMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.messages.length;
  }

  /** Index of the first message with a sequence above `after`. */
  private indexAfter(after: number): number {
    let low = 0;
    let high = this.messages.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.messages[middle]!.sequence <= after) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private trim(): void {
    const oldest = this.clock.now() - this.limits.maxAgeMs;
    let drop = Math.max(0, this.messages.length - this.limits.maxMessages);
    while (drop < this.messages.length && this.messages[drop]!.storedAt <= oldest) drop += 1;
    if (drop === 0) return;
    for (const message of this.messages.splice(0, drop)) {
      // Trimmed oldest first: if it was the newest on its subject, nothing on that subject is left.
      if (this.lastBySubject.get(message.subject) === message.sequence) {
        this.lastBySubject.delete(message.subject);
      }
    }
  }

  private forgetSubjectOf(message: StoredMessage): void {
    if (this.lastBySubject.get(message.subject) !== message.sequence) return;
    // The newest on its subject was acked away: find the newest still kept.
    for (let index = this.messages.length - 1; index >= 0; index -= 1) {
      if (this.messages[index]!.subject === message.subject) {
        this.lastBySubject.set(message.subject, this.messages[index]!.sequence);
        return;
      }
    }
    this.lastBySubject.delete(message.subject);
  }

  private forgetOldIds(now: number): void {
    const oldest = now - this.limits.duplicateWindowMs;
    for (const [id, seen] of this.recentIds) {
      if (seen.at > oldest) break;
      this.recentIds.delete(id);
    }
  }
}
