import { describe, expect, it } from '@jest/globals';

import { ClientAddressResolver } from './client-address';

describe('ClientAddressResolver', () => {
  it('uses the peer address when no proxy is trusted, whatever the header says', () => {
    const resolver = new ClientAddressResolver([]);
    expect(resolver.resolve('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    expect(resolver.resolve('::ffff:203.0.113.9', undefined)).toBe('203.0.113.9');
  });

  it('ignores X-Forwarded-For from an untrusted peer', () => {
    const resolver = new ClientAddressResolver(['10.0.0.0/8']);
    expect(resolver.resolve('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
  });

  it('reads X-Forwarded-For from the right, skipping trusted proxies', () => {
    const resolver = new ClientAddressResolver(['10.0.0.0/8', '192.0.2.7']);
    // A client-supplied (forged) left part is never chosen over the real client the proxy saw.
    expect(resolver.resolve('10.1.2.3', '1.1.1.1, 198.51.100.1, 192.0.2.7')).toBe('198.51.100.1');
    expect(resolver.resolve('::ffff:10.1.2.3', ['198.51.100.1', '10.9.9.9'])).toBe('198.51.100.1');
    expect(resolver.resolve('10.1.2.3', 'garbage, 10.2.2.2')).toBe('10.2.2.2');
    expect(resolver.resolve('10.1.2.3', undefined)).toBe('10.1.2.3');
  });

  it('handles IPv6 proxies and clients', () => {
    const resolver = new ClientAddressResolver(['::1', 'fd00::/8']);
    expect(resolver.resolve('::1', '2001:db8::5, fd00::1')).toBe('2001:db8::5');
  });

  it('refuses a proxy entry that is not an address or range', () => {
    expect(() => new ClientAddressResolver(['proxy.local'])).toThrow(/not an IP address/);
  });
});
