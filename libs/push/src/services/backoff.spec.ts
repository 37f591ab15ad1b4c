import { describe, expect, it } from '@jest/globals';

import { retryDelayMs } from './backoff';

const lowest = () => 0;
const highest = () => 1;

describe('retryDelayMs', () => {
  it('doubles from 1 s per attempt, with jitter between half and all of it', () => {
    const ranges = [1, 2, 3, 4, 5].map((attempt) => [
      retryDelayMs(attempt, undefined, lowest),
      retryDelayMs(attempt, undefined, highest),
    ]);
    expect(ranges).toEqual([
      [500, 1000],
      [1000, 2000],
      [2000, 4000],
      [4000, 8000],
      [8000, 16_000],
    ]);
    expect(retryDelayMs(3, undefined, () => 0.5)).toBe(3000);
  });

  it('is capped at 5 minutes', () => {
    expect(retryDelayMs(9, undefined, highest)).toBe(256_000);
    for (const attempt of [10, 12, 50]) {
      expect(retryDelayMs(attempt, undefined, highest)).toBe(300_000);
      expect(retryDelayMs(attempt, undefined, lowest)).toBe(150_000);
    }
  });

  it('treats a first delivery numbered 0 like attempt 1', () => {
    expect(retryDelayMs(0, undefined, highest)).toBe(1000);
  });

  it('never retries sooner than Retry-After asks', () => {
    expect(retryDelayMs(1, 30_000, highest)).toBe(30_000);
  });

  it('never waits more than 5 minutes, whatever the wait asked for', () => {
    expect(retryDelayMs(1, 600_000, highest)).toBe(300_000);
    expect(retryDelayMs(12, 86_400_000, lowest)).toBe(300_000);
  });

  it('keeps the backoff when Retry-After asks for less', () => {
    expect(retryDelayMs(4, 1000, lowest)).toBe(4000);
    expect(retryDelayMs(1, 0, highest)).toBe(1000);
  });
});
