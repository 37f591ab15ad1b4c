/** Where the memory engine reads the time for ages and TTLs (injectable, so tests can move it). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  constructor(private current = Date.now()) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

/**
 * A timer that does not keep the process alive. Delays (retry, ack wait) run on real time; only
 * ages and TTLs follow the injected clock.
 */
export function unrefTimer(ms: number, callback: () => void): NodeJS.Timeout {
  const timer = setTimeout(callback, Math.max(0, ms));
  timer.unref();
  return timer;
}
