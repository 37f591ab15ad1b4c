import { type LookupAddress } from 'node:dns';

import { describe, expect, it } from '@jest/globals';

import {
  allowListProblem,
  EndpointRefusedError,
  endpointOrigin,
  forbiddenKind,
  WebPushEndpointPolicy,
} from './webpush-endpoint';

/** A resolver answering from a table; unknown names fail as DNS does. */
function tableResolver(table: Record<string, string[]>) {
  return (name: string): Promise<LookupAddress[]> => {
    const addresses = table[name];
    if (addresses === undefined) {
      return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
    }
    return Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
}

describe('forbiddenKind', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['100.127.255.254', 'shared (CGNAT)'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['::', 'unspecified or loopback'],
    ['::1', 'unspecified or loopback'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['ff02::1', 'multicast'],
    // IPv4-mapped IPv6, in both spellings.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:100.64.0.1', 'shared (CGNAT)'],
    // NAT64 and 6to4 carry an IPv4 address.
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:c0a8:101::1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['not-an-address', 'not an IP address'],
  ])('calls %s %s', (address, kind) => {
    expect(forbiddenKind(address)).toBe(kind);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.15.255.255',
    '172.32.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '2001:4860:4860::8888',
    '2a03:2880::1',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('lets the public address %s through', (address) => {
    expect(forbiddenKind(address)).toBeUndefined();
  });
});

describe('allowListProblem', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.0/8',
    '::1',
    'fd00::/8',
    '0.0.0.0/0',
    'push.internal',
    'localhost',
    'a-b.example.',
  ])('accepts %s', (entry) => {
    expect(allowListProblem(entry)).toBeUndefined();
  });

  it.each([
    ['10.0.0.0/33', /prefix length outside 0-32/],
    ['::/129', /prefix length outside 0-128/],
    ['10.0.0.0/x', /prefix length/],
    ['10.0.0.0/8/8', /not a CIDR range/],
    ['push.internal/24', /neither a host name/],
    ['https://push.internal', /neither a host name/],
    ['push internal', /neither a host name/],
    ['-push.internal', /neither a host name/],
  ])('refuses %s', (entry, problem) => {
    expect(allowListProblem(entry)).toMatch(problem);
  });

  it('makes the policy refuse to start with a bad entry', () => {
    expect(() => new WebPushEndpointPolicy(['10.0.0.0/33'])).toThrow(/HERALD_WEBPUSH_ALLOWED_HOSTS/);
  });
});

describe('endpointOrigin', () => {
  it('keeps the scheme, host and port and drops the secret path', () => {
    expect(endpointOrigin('https://fcm.googleapis.com/fcm/send/abc:def')).toBe('https://fcm.googleapis.com');
    expect(endpointOrigin('http://127.0.0.1:8080/push/x')).toBe('http://127.0.0.1:8080');
    expect(endpointOrigin('https://Push.Example:443/x')).toBe('https://push.example');
    expect(endpointOrigin('ftp://push.example/x')).toBeUndefined();
    expect(endpointOrigin('not a url')).toBeUndefined();
  });
});

describe('WebPushEndpointPolicy at registration', () => {
  const resolve = tableResolver({
    'push.example': ['8.8.8.8', '2001:4860:4860::8888'],
    'intranet.example': ['10.1.2.3'],
    'split.example': ['8.8.8.8', '192.168.0.10'],
    'mapped.example': ['::ffff:127.0.0.1'],
    'push.internal': ['10.9.9.9'],
  });
  const policy = new WebPushEndpointPolicy([], resolve);

  it('accepts an https endpoint whose every address is public', async () => {
    expect(await policy.refusal('https://push.example/wpush/v2/abc')).toBeUndefined();
    expect(await policy.refusal('https://8.8.8.8/wpush')).toBeUndefined();
  });

  it.each([
    ['https://intranet.example/x', 'intranet.example resolves to 10.1.2.3 (private)'],
    ['https://split.example/x', 'split.example resolves to 192.168.0.10 (private)'],
    ['https://mapped.example/x', 'mapped.example resolves to ::ffff:127.0.0.1 (loopback)'],
    ['https://INTRANET.example./x', 'intranet.example resolves to 10.1.2.3 (private)'],
    ['https://100.64.1.1/x', '100.64.1.1 (shared (CGNAT))'],
    ['https://[fe80::1]/x', 'fe80::1 (link-local)'],
    ['https://[ff02::1]/x', 'ff02::1 (multicast)'],
    ['https://0.0.0.0/x', '0.0.0.0 (unspecified)'],
    ['https://nowhere.example/x', 'nowhere.example does not resolve (ENOTFOUND)'],
    ['http://push.example/x', 'expected an https URL (plain http only for HERALD_WEBPUSH_ALLOWED_HOSTS)'],
    ['wss://push.example/x', 'expected an https URL'],
    ['javascript:alert(1)', 'expected an https URL'],
    ['not a url', 'expected an https URL'],
  ])('refuses %s: %s', async (endpoint, refusal) => {
    expect(await policy.refusal(endpoint)).toBe(refusal);
  });

  it('trusts an allowed host name whatever it resolves to, over plain http too', async () => {
    const allowing = new WebPushEndpointPolicy(['push.internal'], resolve);
    expect(await allowing.refusal('http://push.internal:8080/x')).toBeUndefined();
    expect(await allowing.refusal('https://PUSH.internal/x')).toBeUndefined();
    expect(await allowing.refusal('https://intranet.example/x')).toMatch(/private/);
  });

  it('trusts addresses in an allowed range, and plain http to an allowed literal only', async () => {
    const allowing = new WebPushEndpointPolicy(['10.0.0.0/8', '::1'], resolve);
    expect(await allowing.refusal('https://intranet.example/x')).toBeUndefined();
    expect(await allowing.refusal('http://10.200.0.1:8080/x')).toBeUndefined();
    expect(await allowing.refusal('http://[::1]:8080/x')).toBeUndefined();
    // A name in the range is still not plain-http material: only listed names are.
    expect(await allowing.refusal('http://intranet.example/x')).toMatch(/expected an https URL/);
    expect(await allowing.refusal('https://split.example/x')).toMatch(/192\.168\.0\.10/);
  });
});

describe('WebPushEndpointPolicy.lookup', () => {
  const resolve = tableResolver({
    'push.example': ['8.8.8.8', '2001:4860:4860::8888'],
    'intranet.example': ['8.8.4.4', '10.1.2.3'],
  });
  const policy = new WebPushEndpointPolicy([], resolve);

  const lookup = (hostname: string, options: { all?: boolean; family?: number }) =>
    new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family?: number }>((done) =>
      policy.lookup(hostname, options, (error, address, family) => done({ error, address, family })),
    );

  it('answers every address when asked for all, as connections with autoSelectFamily ask', async () => {
    expect(await lookup('push.example', { all: true })).toEqual({
      error: null,
      address: [
        { address: '8.8.8.8', family: 4 },
        { address: '2001:4860:4860::8888', family: 6 },
      ],
      family: undefined,
    });
  });

  it('answers one address of the family asked for otherwise', async () => {
    expect(await lookup('push.example', {})).toEqual({ error: null, address: '8.8.8.8', family: 4 });
    expect(await lookup('push.example', { family: 6 })).toEqual({
      error: null,
      address: '2001:4860:4860::8888',
      family: 6,
    });
  });

  it('fails with EndpointRefusedError when any address is off limits', async () => {
    const { error } = await lookup('intranet.example', { all: true });
    expect(error).toBeInstanceOf(EndpointRefusedError);
    expect(error).toMatchObject({
      code: 'EHERALD_ENDPOINT_REFUSED',
      message: 'intranet.example resolves to 10.1.2.3 (private)',
    });
  });

  it('passes resolution failures on as they are', async () => {
    const { error } = await lookup('nowhere.example', {});
    expect(error).toMatchObject({ code: 'ENOTFOUND' });
    expect(error).not.toBeInstanceOf(EndpointRefusedError);
  });
});
