import { describe, expect, it } from '@jest/globals';

import { FailureLimiter } from './failure-limiter';

function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Reserves `times` attempts for `key`; how many were granted. */
function reserveTimes(limiter: FailureLimiter, key: string, times: number): number {
  let granted = 0;
  for (let attempt = 0; attempt < times; attempt += 1) if (limiter.reserve(key)) granted += 1;
  return granted;
}

describe('FailureLimiter', () => {
  it('grants ten attempts within the minute, then none, and only for that key', () => {
    const clock = manualClock();
    const limiter = new FailureLimiter(10, 60_000, clock.now);
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect(limiter.reserve('10.0.0.1')).toBe(true);
      clock.advance(1000);
    }
    expect(limiter.reserve('10.0.0.1')).toBe(false);
    expect(limiter.reserve('10.0.0.2')).toBe(true);
  });

  it('counts attempts as they are reserved, before any of them is decided', () => {
    const limiter = new FailureLimiter(10, 60_000, manualClock().now);
    // Twenty guesses in flight at once: the first ten take the allowance, the rest are refused.
    expect(reserveTimes(limiter, 'a', 20)).toBe(10);
  });

  it('does not count attempts given back (successes)', () => {
    const limiter = new FailureLimiter(3, 60_000, manualClock().now);
    for (let success = 0; success < 5; success += 1) {
      expect(limiter.reserve('a')).toBe(true);
      limiter.release('a');
    }
    expect(reserveTimes(limiter, 'a', 5)).toBe(3);
    limiter.release('unknown');
    expect(limiter.reserve('unknown')).toBe(true);
  });

  it('starts over once the minute since the window’s first attempt has passed', () => {
    const clock = manualClock();
    const limiter = new FailureLimiter(10, 60_000, clock.now);
    expect(reserveTimes(limiter, '10.0.0.1', 10)).toBe(10);
    clock.advance(59_999);
    expect(limiter.reserve('10.0.0.1')).toBe(false);
    clock.advance(1);
    expect(reserveTimes(limiter, '10.0.0.1', 11)).toBe(10);
  });

  it('keeps at most maxKeys keys, forgetting the oldest', () => {
    const limiter = new FailureLimiter(1, 60_000, manualClock().now, 2);
    limiter.reserve('a');
    limiter.reserve('b');
    limiter.reserve('c');
    expect([limiter.reserve('b'), limiter.reserve('c'), limiter.reserve('a')]).toEqual([false, false, true]);
  });
});
