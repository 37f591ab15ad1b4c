/** Event ids a group remembers at most, to drop a delivery that arrives twice (a redelivered event). */
export const RECENT_EVENTS_PER_GROUP = 1024;

/**
 * The event ids one group was handed lately: the dedupe of live and caught-up traffic. Bounded in
 * size and in time: an id is forgotten once `capacity` newer ones arrived or `maxAgeMs` passed
 * since it arrived, whichever comes first. The gateway uses the replay window as the age bound, as
 * long as DELIVERIES keeps a delivery that could come back; an id seen again later is a new event
 * under a reused id (an idempotency key used again), not a repeat, and a quiet group would
 * otherwise drop it however long ago its namesake came.
 */
export class RecentEvents {
  /** id -> when it arrived; insertion order is arrival order, oldest first. */
  private readonly arrived = new Map<string, number>();

  constructor(
    private readonly capacity: number,
    private readonly maxAgeMs: number,
    /** A monotonic clock in ms: wall-clock steps must not forget or resurrect ids. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Ids remembered now (expired ones are let go of on the next `firstTime`). */
  get size(): number {
    return this.arrived.size;
  }

  /** True the first time an id is seen within the bounds; it is remembered from then on. */
  firstTime(eventId: string): boolean {
    const now = this.now();
    for (const [id, at] of this.arrived) {
      if (now - at < this.maxAgeMs) break;
      this.arrived.delete(id);
    }
    if (this.arrived.has(eventId)) return false;
    this.arrived.set(eventId, now);
    if (this.arrived.size > this.capacity) this.arrived.delete(this.arrived.keys().next().value!);
    return true;
  }
}
