import { describe, expect, it } from '@jest/globals';

import { BoundedRegistry } from './bounded-registry';

/** Counters as values, a clock moved by hand and a set of keys whose work is in flight. */
function registry(maxEntries: number, idleMs: number) {
  let now = 1_000_000;
  let created = 0;
  const busy = new Set<number>();
  const entries = new BoundedRegistry<{ id: number }>({
    create: () => ({ id: (created += 1) }),
    busy: (value) => busy.has(value.id),
    maxEntries,
    idleMs,
    now: () => now,
  });
  return { entries, busy, advance: (ms: number) => (now += ms) };
}

describe('BoundedRegistry', () => {
  it('keeps one value per key while it is used', () => {
    const { entries, advance } = registry(10, 60_000);
    const first = entries.get('https://a.example');
    advance(59_999);
    expect(entries.get('https://a.example')).toBe(first);
    advance(59_999);
    expect(entries.get('https://a.example')).toBe(first);
    expect(entries.get('https://b.example')).not.toBe(first);
    expect(entries.size).toBe(2);
  });

  it('forgets a key unused for idleMs', () => {
    const { entries, advance } = registry(10, 60_000);
    const first = entries.get('https://a.example');
    advance(60_000);
    entries.get('https://b.example');
    expect(entries.size).toBe(1);
    expect(entries.get('https://a.example')).not.toBe(first);
  });

  it('never holds more than maxEntries, dropping the least recently used', () => {
    const { entries } = registry(3, 60_000);
    const a = entries.get('a');
    entries.get('b');
    entries.get('c');
    entries.get('a'); // b is now the least recently used
    entries.get('d');
    expect(entries.size).toBe(3);
    expect(entries.get('a')).toBe(a);
    expect(entries.get('c')).toBeDefined();
    expect(entries.size).toBe(3);
    for (let key = 0; key < 1000; key += 1) entries.get(`origin-${key}`);
    expect(entries.size).toBe(3);
  });

  it('keeps an entry with work in flight, expired or over the bound, and drops it once idle', () => {
    const { entries, busy, advance } = registry(2, 60_000);
    const held = entries.get('held');
    busy.add(held.id);
    advance(120_000);
    entries.get('b');
    entries.get('c');
    entries.get('d');
    expect(entries.size).toBe(2); // held, and the latest
    expect(entries.get('held')).toBe(held);

    busy.delete(held.id);
    advance(60_000);
    entries.get('e');
    expect(entries.size).toBe(1);
    expect(entries.get('held')).not.toBe(held);
  });
});
