import { describe, expect, it } from '@jest/globals';

import { RecentEvents } from './recent-events';

describe('RecentEvents (a group dedupe memory)', () => {
  function memory(capacity: number, maxAgeMs: number) {
    const clock = { now: 0 };
    return { recent: new RecentEvents(capacity, maxAgeMs, () => clock.now), clock };
  }

  it('drops an id seen within its age bound', () => {
    const { recent, clock } = memory(10, 60_000);
    expect(recent.firstTime('a')).toBe(true);
    clock.now = 59_999;
    expect(recent.firstTime('a')).toBe(false);
  });

  it('forgets an id once it is older than the bound, however little else the group received', () => {
    const { recent, clock } = memory(10, 60_000);
    expect(recent.firstTime('a')).toBe(true);
    clock.now = 60_000;
    // The same id again, a window later: a new event under a reused id, not a redelivery.
    expect(recent.firstTime('a')).toBe(true);
    // Remembered afresh from its second arrival.
    clock.now = 119_999;
    expect(recent.firstTime('a')).toBe(false);
  });

  it('keeps at most `capacity` ids, forgetting the oldest first', () => {
    const { recent } = memory(3, 60_000);
    for (const id of ['a', 'b', 'c', 'd']) expect(recent.firstTime(id)).toBe(true);
    expect(recent.size).toBe(3);
    expect(recent.firstTime('d')).toBe(false);
    expect(recent.firstTime('a')).toBe(true);
  });

  it('lets go of every expired id as time passes, not only the one asked about', () => {
    const { recent, clock } = memory(100, 1000);
    for (const id of ['a', 'b', 'c']) recent.firstTime(id);
    clock.now = 500;
    recent.firstTime('d');
    clock.now = 1200;
    recent.firstTime('e');
    expect(recent.size).toBe(2);
  });
});
