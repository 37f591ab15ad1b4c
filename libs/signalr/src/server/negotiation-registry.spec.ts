import { describe, expect, it } from '@jest/globals';

import { NegotiationRegistry } from './negotiation-registry';

/** Negotiates for `client` and returns its connection token, or the refusal. */
function negotiate(registry: NegotiationRegistry, client: string, now = 0): string {
  const result = registry.negotiate('hub', 1, now, client);
  return 'refused' in result ? `refused: ${result.refused}` : String(result.response.connectionToken);
}

describe('NegotiationRegistry', () => {
  it('caps pending negotiations per client, so that one client cannot fill the table', () => {
    const registry = new NegotiationRegistry({ ttlMs: 1000, maxPending: 10, maxPendingPerClient: 3 });
    for (let index = 0; index < 3; index += 1) expect(negotiate(registry, 'a')).not.toMatch(/refused/);
    expect(negotiate(registry, 'a')).toBe('refused: client');
    // Everyone else still negotiates.
    expect(negotiate(registry, 'b')).not.toMatch(/refused/);
    expect(registry.size).toBe(4);
  });

  it('counts only what is pending: a claimed token frees its client place, an open connection holds none', () => {
    const registry = new NegotiationRegistry({ ttlMs: 1000, maxPending: 10, maxPendingPerClient: 2 });
    const first = negotiate(registry, 'a');
    negotiate(registry, 'a');
    expect(negotiate(registry, 'a')).toBe('refused: client');
    expect(registry.claim('hub', first, 1)).toMatchObject({ ok: true });
    expect(negotiate(registry, 'a', 2)).not.toMatch(/refused/);
  });

  it('frees a client place when its token expires unused', () => {
    const registry = new NegotiationRegistry({ ttlMs: 1000, maxPending: 10, maxPendingPerClient: 1 });
    negotiate(registry, 'a', 0);
    expect(negotiate(registry, 'a', 999)).toBe('refused: client');
    expect(negotiate(registry, 'a', 1000)).not.toMatch(/refused/);
    expect(registry.size).toBe(1);
  });

  it('still refuses past the global cap, and a released token frees its place', () => {
    const registry = new NegotiationRegistry({ ttlMs: 1000, maxPending: 2, maxPendingPerClient: 2 });
    const first = negotiate(registry, 'a');
    negotiate(registry, 'b');
    expect(negotiate(registry, 'c')).toBe('refused: pending');
    registry.release(first);
    expect(negotiate(registry, 'a')).not.toMatch(/refused/);
  });
});
