import { type IncomingMessage } from 'node:http';

import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import { loadConfig } from '@herald/platform';
import { TestIssuer } from '@herald/testing';

import { type GatewayConfig, gatewayConfigSchema } from '../config/gateway.config';
import { GatewayCore } from '../testing/gateway-core.fixture';
import { addressLimitKey, HubAdmission } from './hub-admission';
import { AnonymousHubAuthorizer } from './hub.authorizers';

describe('addressLimitKey', () => {
  it('counts an IPv4 client by its address', () => {
    expect(addressLimitKey('203.0.113.9')).toBe('203.0.113.9');
  });

  it('counts an IPv6 client by its /64, however the address is written', () => {
    expect(addressLimitKey('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(addressLimitKey('2001:0DB8:0000:0001:ffff:ffff:ffff:ffff')).toBe('2001:db8:0:1::/64');
    expect(addressLimitKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressLimitKey('::1')).toBe('0:0:0:0::/64');
    expect(addressLimitKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressLimitKey('64:ff9b::203.0.113.9')).toBe('64:ff9b:0:0::/64');
  });

  it('leaves what is not an address as it is', () => {
    expect(addressLimitKey('unknown')).toBe('unknown');
  });
});

describe('per-address limits on the anonymous hub', () => {
  let config: GatewayConfig;

  beforeAll(async () => {
    const issuer = await TestIssuer.create();
    config = {
      ...loadConfig(gatewayConfigSchema, { HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem }),
      HERALD_ANONYMOUS_CONNECTIONS_PER_IP: 2,
    };
  });

  /** An upgrade of `/anonymous-hub` from `address`: true when admitted. */
  function upgrade(authorizer: AnonymousHubAuthorizer, address: string): Promise<boolean> {
    const request = { socket: { remoteAddress: address }, headers: {} } as IncomingMessage;
    const url = new URL(`http://gateway/anonymous-hub?Token=${crypto.randomUUID()}`);
    return authorizer.authorize(request, url).then((result) => result.accept);
  }

  it('counts the addresses of one IPv6 /64 as one client, and other /64s apart', async () => {
    const authorizer = new AnonymousHubAuthorizer(config, new HubAdmission(config));
    // A host rotating through its /64 (privacy addresses) stays one client.
    expect(await upgrade(authorizer, '2001:db8:0:1::a')).toBe(true);
    expect(await upgrade(authorizer, '2001:db8:0:1:1234::b')).toBe(true);
    expect(await upgrade(authorizer, '2001:db8:0:1:ffff:ffff:ffff:c')).toBe(false);
    expect(await upgrade(authorizer, '2001:db8:0:2::a')).toBe(true);
  });

  it('still counts IPv4 clients address by address', async () => {
    const authorizer = new AnonymousHubAuthorizer(config, new HubAdmission(config));
    expect(await upgrade(authorizer, '203.0.113.1')).toBe(true);
    expect(await upgrade(authorizer, '203.0.113.1')).toBe(true);
    expect(await upgrade(authorizer, '203.0.113.1')).toBe(false);
    expect(await upgrade(authorizer, '203.0.113.2')).toBe(true);
  });
});

describe('pending negotiations per client address', () => {
  let core: GatewayCore | undefined;

  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  /** `POST /anonymous-hub/negotiate` from `address`: its HTTP status. */
  async function negotiate(gateway: GatewayCore, address: string): Promise<number> {
    const request = {
      url: `/anonymous-hub/negotiate?negotiateVersion=1&Token=${crypto.randomUUID()}`,
      socket: { remoteAddress: address },
      headers: {},
    } as IncomingMessage;
    return (await gateway.server.negotiate(request)).status;
  }

  it('caps what one client (an IPv6 /64) has pending, and leaves everyone else their share', async () => {
    core = await GatewayCore.start({ signalr: { maxPendingNegotiationsPerClient: 2 } });
    expect(await negotiate(core, '2001:db8:0:1::a')).toBe(200);
    expect(await negotiate(core, '2001:db8:0:1::b')).toBe(200);
    // Unauthenticated, and from a fresh address of the same /64: the same client.
    expect(await negotiate(core, '2001:db8:0:1::c')).toBe(429);
    expect(await negotiate(core, '2001:db8:0:2::a')).toBe(200);
    expect(await negotiate(core, '203.0.113.1')).toBe(200);
    expect(core.server.pendingNegotiations).toBe(4);
  });
});
