import { createHmac, randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  deleteNamespace,
  HubClient,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
  upgradeStatus,
} from '@herald/testing';

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Every token source the gateway accepts, with tokens shaped like the two vaults that issue them,
 * and every refusal (PROTOCOL.md §5): each refused before the upgrade, none disturbing the rest.
 */
describe('access tokens at the hub', () => {
  const namespace = testNamespace('tok');
  const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
  // Bitwarden Identity: RS256, `typ: at+jwt`, a kid, keys from the authority's discovery document.
  let identity: TestIssuer;
  // Vaultwarden: RS256 with its own PEM key pair, issuer `DOMAIN|login`, no kid.
  let vaultwarden: TestIssuer;
  // Any OIDC provider signing with ES256, keys from a JWKS URL.
  let ecdsa: TestIssuer;
  let dispatcher: ServiceProcess;
  let identityGateway: ServiceProcess;
  let vaultwardenGateway: ServiceProcess;
  let ecdsaGateway: ServiceProcess;
  const clients: HubClient[] = [];

  beforeAll(async () => {
    [identity, vaultwarden, ecdsa] = await Promise.all([
      TestIssuer.create({ issuer: 'http://localhost/identity', kid: 'identity-signing-1' }),
      TestIssuer.create({ issuer: 'https://vault.example|login' }),
      TestIssuer.create({ issuer: 'https://oidc.example', algorithm: 'ES256', kid: 'ec-1' }),
    ]);
    const [{ authority }, { jwksUrl }] = await Promise.all([
      identity.serveAuthority(),
      ecdsa.serveAuthority(),
    ]);
    [dispatcher, identityGateway, vaultwardenGateway, ecdsaGateway] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('gateway', {
        ...env,
        HERALD_JWT_AUTHORITY: authority,
        HERALD_JWT_ISSUER: identity.issuer,
      }),
      ServiceProcess.start('gateway', {
        ...env,
        HERALD_JWT_PUBLIC_KEY: vaultwarden.publicKeyPem,
        HERALD_JWT_ISSUER: vaultwarden.issuer,
      }),
      ServiceProcess.start('gateway', { ...env, HERALD_JWT_JWKS_URL: jwksUrl }),
    ]);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await Promise.all(
      [dispatcher, identityGateway, vaultwardenGateway, ecdsaGateway].map((service) => service?.stop()),
    );
    await Promise.all([identity, ecdsa].map((issuer) => issuer?.close()));
    await deleteNamespace(namespace);
  });

  async function receivesOnGateway(
    gateway: ServiceProcess,
    issuer: TestIssuer,
    token: string,
    userId: string,
  ) {
    const client = await HubClient.connect(`${gateway.url}/notifications/hub`, { token });
    clients.push(client);
    const response = await fetch(`${gateway.url}/notifications/send`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await issuer.internalToken({ typ: 'at+jwt' })}`,
      },
      body: JSON.stringify({ Type: 17, Payload: { UserId: userId, Date: new Date().toISOString() } }),
    });
    expect(response.status).toBe(200);
    const invocation = await client.next((received) => received.target === 'ReceiveMessage');
    expect(invocation.args[0]).toMatchObject({ Type: 17, Payload: { UserId: userId } });
  }

  it('accepts a Bitwarden-Identity-shaped token: at+jwt, keys from the OIDC authority, array claims', async () => {
    const userId = randomUUID();
    const organizationId = randomUUID();
    const token = await identity.mint(
      {
        sub: userId,
        device: randomUUID(),
        devicetype: 'ChromeExtension',
        scope: ['api', 'offline_access'],
        amr: ['Application'],
        orgowner: [organizationId.toUpperCase()],
        orgadmin: [],
        client_id: 'browser',
      },
      { typ: 'at+jwt' },
    );
    await receivesOnGateway(identityGateway, identity, token, userId);
  });

  it('accepts a Vaultwarden-shaped token: PEM key, issuer DOMAIN|login, string claims', async () => {
    const userId = randomUUID();
    const token = await vaultwarden.mint({
      sub: userId,
      device: randomUUID(),
      devicetype: 9,
      scope: ['api', 'offline_access'],
      amr: ['Application'],
      orguser: randomUUID(),
      email: 'user@example.com',
    });
    await receivesOnGateway(vaultwardenGateway, vaultwarden, token, userId);
  });

  it('accepts ES256 tokens with keys from a JWKS URL', async () => {
    const userId = randomUUID();
    await receivesOnGateway(ecdsaGateway, ecdsa, await ecdsa.userToken(userId), userId);
  });

  describe('refuses with 401 before the upgrade', () => {
    const hub = () => `${vaultwardenGateway.url}/notifications/hub`;
    const userClaims = () => ({
      sub: randomUUID(),
      device: randomUUID(),
      scope: ['api'],
      amr: ['Application'],
      iss: vaultwarden.issuer,
      exp: Math.floor(Date.now() / 1000) + 600,
    });

    const cases: [string, () => string | Promise<string>][] = [
      [
        'a token with alg none',
        () => `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(userClaims())}.`,
      ],
      [
        'an HS256 token signed with the public key as the secret',
        () => {
          const unsigned = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(userClaims())}`;
          const signature = createHmac('sha256', vaultwarden.publicKeyPem)
            .update(unsigned)
            .digest('base64url');
          return `${unsigned}.${signature}`;
        },
      ],
      ['an expired token', () => vaultwarden.userToken(randomUUID(), {}, { expiresIn: -600 })],
      ['a token not yet valid', () => vaultwarden.userToken(randomUUID(), {}, { notBefore: 600 })],
      [
        'a token from another issuer',
        () => vaultwarden.userToken(randomUUID(), {}, { issuer: 'https://evil.example|login' }),
      ],
      ['a token without scope api', () => vaultwarden.userToken(randomUUID(), { scope: ['offline_access'] })],
      [
        'a token whose amr lacks Application or external',
        () => vaultwarden.userToken(randomUUID(), { amr: ['pwd'] }),
      ],
      ['a token with a foreign typ', () => vaultwarden.userToken(randomUUID(), {}, { typ: 'dpop+jwt' })],
      [
        'a token signed by another key',
        async () => (await TestIssuer.create(vaultwarden.issuer)).userToken(randomUUID()),
      ],
      ['a token whose subject is not a user id', () => vaultwarden.userToken('internal.Api')],
      [
        'a tampered token',
        async () => {
          const [header, , signature] = (await vaultwarden.userToken(randomUUID())).split('.');
          return `${header}.${base64url({ ...userClaims(), sub: randomUUID() })}.${signature}`;
        },
      ],
      ['garbage', () => 'not.a.jwt'],
    ];

    it.each(cases)('%s', async (_name, makeToken) => {
      const token = await makeToken();
      expect(await upgradeStatus(`${hub()}?access_token=${encodeURIComponent(token)}`)).toBe(401);
      expect(await upgradeStatus(hub(), { Authorization: `Bearer ${token}` })).toBe(401);
    });

    it('accepts `external` as amr, and keeps serving everyone after all the refusals', async () => {
      const userId = randomUUID();
      await receivesOnGateway(
        vaultwardenGateway,
        vaultwarden,
        await vaultwarden.userToken(userId, { amr: ['external'] }),
        userId,
      );
      expect(vaultwardenGateway.rawOutput.join('\n')).toMatch(/"reason":"expired"/);
    });
  });
});
