import { describe, expect, it } from '@jest/globals';

import { ConnectionLimits } from './connection-limits';

describe('ConnectionLimits', () => {
  it('admits up to each limit, refuses past it, and frees places on release', () => {
    const limits = new ConnectionLimits();
    const perIp = (ip: string) => [{ key: `ip:${ip}`, max: 2 }];
    const first = limits.tryAcquire(perIp('a'));
    const second = limits.tryAcquire(perIp('a'));
    expect('release' in first && 'release' in second).toBe(true);
    expect(limits.tryAcquire(perIp('a'))).toEqual({ full: { key: 'ip:a', max: 2 } });
    expect('release' in limits.tryAcquire(perIp('b'))).toBe(true);
    if ('release' in first) first.release();
    expect(limits.count('ip:a')).toBe(1);
    expect('release' in limits.tryAcquire(perIp('a'))).toBe(true);
  });

  it('reserves nothing when one of several limits is full', () => {
    const limits = new ConnectionLimits();
    const user = { key: 'user:u', max: 1 };
    expect('release' in limits.tryAcquire([{ key: 'ip:a', max: 10 }, user])).toBe(true);
    expect(limits.tryAcquire([{ key: 'ip:b', max: 10 }, user])).toEqual({ full: user });
    expect(limits.count('ip:b')).toBe(0);
  });

  it('frees one place per admission, however often its release is called', () => {
    const limits = new ConnectionLimits();
    const perIp = [{ key: 'ip:a', max: 2 }];
    const first = limits.tryAcquire(perIp);
    const second = limits.tryAcquire(perIp);
    if (!('release' in first) || !('release' in second)) throw new Error('both should be admitted');
    first.release();
    first.release();
    // The second connection still holds its place: one more is admitted, then the limit is full.
    expect(limits.count('ip:a')).toBe(1);
    expect('release' in limits.tryAcquire(perIp)).toBe(true);
    expect(limits.tryAcquire(perIp)).toEqual({ full: { key: 'ip:a', max: 2 } });
    second.release();
    expect(limits.count('ip:a')).toBe(1);
  });
});
