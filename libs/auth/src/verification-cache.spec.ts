import { describe, expect, it } from '@jest/globals';
import { VerificationCache } from './verification-cache';

describe('VerificationCache', () => {
  it('returns an entry until its expiry, never at or after it', () => {
    const cache = new VerificationCache<string>();
    cache.set('token', 'claims', 2000, 1000);
    expect(cache.get('token', 1999)).toBe('claims');
    expect(cache.get('token', 2000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('does not store what is already expired', () => {
    const cache = new VerificationCache<string>();
    cache.set('token', 'claims', 1000, 1000);
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new VerificationCache<string>(2);
    cache.set('a', 'A', 10_000, 0);
    cache.set('b', 'B', 10_000, 0);
    expect(cache.get('a', 1)).toBe('A');
    cache.set('c', 'C', 10_000, 0);
    expect(cache.get('b', 1)).toBeUndefined();
    expect(cache.get('a', 1)).toBe('A');
    expect(cache.get('c', 1)).toBe('C');
    expect(cache.size).toBe(2);
  });

  it('replaces an entry set twice without growing', () => {
    const cache = new VerificationCache<string>(2);
    cache.set('a', 'A', 10_000, 0);
    cache.set('a', 'A2', 10_000, 0);
    expect(cache.size).toBe(1);
    expect(cache.get('a', 1)).toBe('A2');
  });
});
