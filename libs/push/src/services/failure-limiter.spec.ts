import { describe, expect, it } from '@jest/globals';

import { FailureLimiter } from './failure-limiter';

function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('FailureLimiter', () => {
  it('blocks an address after ten failures within the minute, and only that address', () => {
    const clock = manualClock();
    const limiter = new FailureLimiter(10, 60_000, clock.now);
    for (let failure = 0; failure < 9; failure += 1) {
      limiter.record('10.0.0.1');
      clock.advance(1000);
    }
    expect(limiter.blocked('10.0.0.1')).toBe(false);
    limiter.record('10.0.0.1');
    expect(limiter.blocked('10.0.0.1')).toBe(true);
    expect(limiter.blocked('10.0.0.2')).toBe(false);
  });

  it('unblocks once the minute since the first failure has passed', () => {
    const clock = manualClock();
    const limiter = new FailureLimiter(10, 60_000, clock.now);
    for (let failure = 0; failure < 10; failure += 1) limiter.record('10.0.0.1');
    clock.advance(59_999);
    expect(limiter.blocked('10.0.0.1')).toBe(true);
    clock.advance(1);
    expect(limiter.blocked('10.0.0.1')).toBe(false);
    // A new window starts from nothing.
    limiter.record('10.0.0.1');
    expect(limiter.blocked('10.0.0.1')).toBe(false);
  });

  it('starts a new count when a failure comes after the window', () => {
    const clock = manualClock();
    const limiter = new FailureLimiter(3, 60_000, clock.now);
    limiter.record('a');
    limiter.record('a');
    clock.advance(60_000);
    limiter.record('a');
    limiter.record('a');
    expect(limiter.blocked('a')).toBe(false);
    limiter.record('a');
    expect(limiter.blocked('a')).toBe(true);
  });

  it('keeps at most maxKeys addresses, forgetting the oldest', () => {
    const clock = manualClock();
    const limiter = new FailureLimiter(1, 60_000, clock.now, 2);
    limiter.record('a');
    limiter.record('b');
    limiter.record('c');
    expect([limiter.blocked('a'), limiter.blocked('b'), limiter.blocked('c')]).toEqual([false, true, true]);
  });
});
