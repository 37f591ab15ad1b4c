import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { assertHubPolicy, assertScope } from './policy';
import { KeyServer } from './testing/key-server.fixture';
import { refusalOf } from './testing/refusal.fixture';
import { bitwardenClaims, createSigningKey, publicJwk, signToken } from './testing/token.fixture';
import { TokenVerifier } from './token-verifier';

const discoveryPath = '/identity/.well-known/openid-configuration';
const jwksPath = '/identity/.well-known/openid-configuration/jwks';

describe('TokenVerifier with remote keys', () => {
  let server: KeyServer;

  beforeEach(async () => {
    server = await KeyServer.start();
  });

  afterEach(async () => {
    await server.close();
  });

  it('verifies ES256 tokens from a JWKS URL', async () => {
    const key = await createSigningKey('ES256');
    server.keys = [await publicJwk(key)];
    const verifier = await TokenVerifier.create({ jwksUrl: server.jwksUrl });
    const claims = await verifier.verify(await signToken(key, bitwardenClaims()));
    expect(claims.scope).toEqual(['api', 'offline_access']);
    expect(server.count(jwksPath)).toBe(1);
  });

  it('verifies a Bitwarden Identity token through authority discovery', async () => {
    const key = await createSigningKey('RS256', 'B8C2F5E0A1D34C6E9F7A0B1C2D3E4F50');
    const decoy = await createSigningKey('RS256');
    server.keys = [await publicJwk(decoy), await publicJwk(key)];
    const verifier = await TokenVerifier.create({
      authority: server.authority,
      issuer: 'http://localhost/identity',
    });

    const token = await signToken(key, bitwardenClaims(), { typ: 'at+jwt' });
    const claims = await verifier.verify(token);

    expect(claims).toMatchObject({
      sub: '4c6b3f0e-94ab-4d7b-8e51-ab1200c0ffee',
      iss: 'http://localhost/identity',
      device: '0f8e2b1c-7d3a-4b5e-9c6f-1a2b3c4d5e6f',
      devicetype: 'ChromeExtension',
      scope: ['api', 'offline_access'],
      amr: ['Application'],
      orgowner: ['6a1d9c2b-0c8e-4d55-9f3e-b0a100000001', 'd3b07384-d9a0-4c1f-8e2a-b0a100000002'],
      orguser: ['c2f0e6d4-3b7a-4e19-a5d8-b0a100000003'],
      orgadmin: [],
      orgcustom: [],
    });
    expect(() => assertHubPolicy(claims)).not.toThrow();
    expect(await refusalOf(Promise.resolve().then(() => assertScope(claims, 'internal')))).toMatchObject({
      reason: 'insufficient-scope',
      status: 403,
    });
    expect(server.count(discoveryPath)).toBe(1);
    expect(server.count(jwksPath)).toBe(1);
  });

  it('serves a repeated token from the cache without touching the key server', async () => {
    const key = await createSigningKey('RS256');
    server.keys = [await publicJwk(key)];
    const verifier = await TokenVerifier.create({ authority: server.authority });
    const token = await signToken(key, bitwardenClaims());
    const first = await verifier.verify(token);
    const requestsAfterFirst = server.requests.length;
    server.mode = 'fail';
    // The identical frozen object comes back: the token was not verified again.
    expect(await verifier.verify(token)).toBe(first);
    expect(server.requests.length).toBe(requestsAfterFirst);
  });

  it('follows a key rotation: an unknown kid refetches the key set', async () => {
    const oldKey = await createSigningKey('RS256');
    const newKey = await createSigningKey('RS256');
    server.keys = [await publicJwk(oldKey)];
    const verifier = await TokenVerifier.create({ jwksUrl: server.jwksUrl, keySetCooldownMs: 0 });
    await verifier.verify(await signToken(oldKey, bitwardenClaims()));

    server.keys = [await publicJwk(newKey)];
    const claims = await verifier.verify(await signToken(newKey, bitwardenClaims()));

    expect(claims.sub).toBe('4c6b3f0e-94ab-4d7b-8e51-ab1200c0ffee');
    expect(server.count(jwksPath)).toBe(2);
    // The retired key is gone from the set: fresh tokens signed with it are refused.
    const retired = await signToken(oldKey, bitwardenClaims({ jti: 'another' }));
    expect((await refusalOf(verifier.verify(retired))).reason).toBe('unknown-key');
  });

  it('does not refetch for unknown kids during the cooldown', async () => {
    const key = await createSigningKey('RS256');
    server.keys = [await publicJwk(key)];
    const verifier = await TokenVerifier.create({ jwksUrl: server.jwksUrl });
    await verifier.verify(await signToken(key, bitwardenClaims()));
    for (const kid of ['forged-1', 'forged-2', 'forged-3']) {
      expect(
        (await refusalOf(verifier.verify(await signToken(key, bitwardenClaims(), { kid })))).reason,
      ).toBe('unknown-key');
    }
    expect(server.count(jwksPath)).toBe(1);
  });

  it('refuses junk before contacting the key server', async () => {
    const verifier = await TokenVerifier.create({ authority: server.authority });
    expect((await refusalOf(verifier.verify('garbage'))).reason).toBe('malformed');
    expect((await refusalOf(verifier.verify('eyJhbGciOiJub25lIn0.e30.'))).reason).toBe(
      'unsupported-algorithm',
    );
    expect(server.requests).toEqual([]);
  });

  it('reports an unreachable JWKS endpoint as key-source-unavailable', async () => {
    const key = await createSigningKey('RS256');
    const verifier = await TokenVerifier.create({ jwksUrl: server.jwksUrl });
    server.mode = 'fail';
    const error = await refusalOf(verifier.verify(await signToken(key, bitwardenClaims())));
    expect(error).toMatchObject({ reason: 'key-source-unavailable', status: 401 });
    expect(error.message).toContain(server.jwksUrl);
  });

  it('reports a closed port as key-source-unavailable', async () => {
    const key = await createSigningKey('RS256');
    const verifier = await TokenVerifier.create({ jwksUrl: server.jwksUrl });
    await server.close();
    const error = await refusalOf(verifier.verify(await signToken(key, bitwardenClaims())));
    expect(error.reason).toBe('key-source-unavailable');
    server = await KeyServer.start();
  });

  it('times out a key server that does not answer', async () => {
    const key = await createSigningKey('RS256');
    server.mode = 'hang';
    const verifier = await TokenVerifier.create({ authority: server.authority, fetchTimeoutMs: 200 });
    const error = await refusalOf(verifier.verify(await signToken(key, bitwardenClaims())));
    expect(error.reason).toBe('key-source-unavailable');
  });

  it('retries a failed discovery on a later request', async () => {
    const key = await createSigningKey('RS256');
    server.keys = [await publicJwk(key)];
    const verifier = await TokenVerifier.create({ authority: server.authority });
    const token = await signToken(key, bitwardenClaims());

    server.mode = 'fail';
    expect((await refusalOf(verifier.verify(token))).reason).toBe('key-source-unavailable');
    server.mode = 'serve';
    await expect(verifier.verify(token)).resolves.toBeDefined();
    expect(server.count(discoveryPath)).toBe(2);
  });

  it('shares one discovery between concurrent first requests', async () => {
    const key = await createSigningKey('RS256');
    server.keys = [await publicJwk(key)];
    const verifier = await TokenVerifier.create({ authority: server.authority });
    const tokens = await Promise.all([1, 2, 3].map((n) => signToken(key, bitwardenClaims({ jti: `t${n}` }))));
    await Promise.all(tokens.map((token) => verifier.verify(token)));
    expect(server.count(discoveryPath)).toBe(1);
    expect(server.count(jwksPath)).toBe(1);
  });

  it('reports a discovery document without jwks_uri as key-source-unavailable', async () => {
    const key = await createSigningKey('RS256');
    const verifier = await TokenVerifier.create({ authority: `${server.baseUrl}/elsewhere` });
    const error = await refusalOf(verifier.verify(await signToken(key, bitwardenClaims())));
    expect(error.reason).toBe('key-source-unavailable');
    expect(error.message).toContain('/elsewhere/.well-known/openid-configuration');
  });
});
