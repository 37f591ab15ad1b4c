/** Event ids a group remembers, to drop a delivery that arrives twice (a redelivered event). */
export const RECENT_EVENTS_PER_GROUP = 1024;

/** The last event ids one group was handed, oldest first; the dedupe of live and caught-up traffic. */
export class RecentEvents {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity = RECENT_EVENTS_PER_GROUP) {}

  /** True the first time an id is seen (within the last `capacity` ids); it is remembered from then on. */
  firstTime(eventId: string): boolean {
    if (this.ids.has(eventId)) return false;
    this.ids.add(eventId);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
    return true;
  }
}
