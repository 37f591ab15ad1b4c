import { type Request } from 'express';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Strategy } from 'passport-jwt';

import { AuthError } from './auth.error';
import { InternalJwtStrategy } from './internal-jwt.strategy';
import { JwtStrategy, type UserIdentity } from './jwt.strategy';
import { authenticateRequest } from './strategy-authentication';
import { KeyServer } from './testing/key-server.fixture';
import {
  bitwardenClaims,
  createSigningKey,
  handMadeToken,
  nowSeconds,
  publicJwk,
  publicPem,
  signToken,
  type SigningKey,
} from './testing/token.fixture';

const issuer = 'http://localhost/identity';
const jwksPath = '/identity/.well-known/openid-configuration/jwks';

/** The parts of an Express request the strategies read. */
function requestWith(token?: string, where: 'header' | 'query' = 'header'): Request {
  const headers = token !== undefined && where === 'header' ? { authorization: `Bearer ${token}` } : {};
  const url =
    token !== undefined && where === 'query' ? `/hub?access_token=${encodeURIComponent(token)}` : '/hub';
  return { headers, url, originalUrl: url } as unknown as Request;
}

async function refusal(strategy: JwtStrategy | InternalJwtStrategy, request: Request): Promise<AuthError> {
  try {
    await authenticateRequest(strategy, request);
  } catch (error) {
    if (error instanceof AuthError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('JwtStrategy and InternalJwtStrategy', () => {
  let key: SigningKey;
  let strategy: JwtStrategy;
  let internal: InternalJwtStrategy;

  beforeAll(async () => {
    key = await createSigningKey('RS256');
    const pem = await publicPem(key);
    strategy = await JwtStrategy.create({ publicKey: pem, issuer });
    internal = await InternalJwtStrategy.create({ publicKey: pem, issuer });
  });

  it('returns the identity of a good user token, from the header or the access_token query', async () => {
    const token = await signToken(key, bitwardenClaims());
    for (const request of [requestWith(token), requestWith(token, 'query')]) {
      const identity = await authenticateRequest<UserIdentity>(strategy, request);
      expect(identity).toMatchObject({
        sub: '4c6b3f0e-94ab-4d7b-8e51-ab1200c0ffee',
        scope: ['api', 'offline_access'],
        amr: ['Application'],
        devicetype: 'ChromeExtension',
      });
    }
  });

  it('answers concurrent requests each with its own identity', async () => {
    const subs = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
    const tokens = await Promise.all(subs.map((sub) => signToken(key, bitwardenClaims({ sub }))));
    const identities = await Promise.all(
      tokens.map((token) => authenticateRequest<UserIdentity>(strategy, requestWith(token))),
    );
    expect(identities.map((identity) => identity.sub)).toEqual(subs);
  });

  it('verifies a token once: later requests with it are answered from the cache', async () => {
    // passport-jwt's documented hook for its verifier: counts real signature checks.
    const verifier = jest.spyOn(Strategy as unknown as { JwtVerifier: () => void }, 'JwtVerifier');
    try {
      const token = await signToken(key, bitwardenClaims({ jti: 'cache-once' }));
      for (let attempt = 0; attempt < 3; attempt += 1) {
        await authenticateRequest(strategy, requestWith(token, attempt === 1 ? 'query' : 'header'));
      }
      expect(verifier).toHaveBeenCalledTimes(1);
    } finally {
      verifier.mockRestore();
    }
  });

  it('accepts amr external, and applies the policy again to a cached token', async () => {
    const external = await signToken(key, bitwardenClaims({ amr: ['external'] }));
    await expect(authenticateRequest(strategy, requestWith(external))).resolves.toBeTruthy();
    await expect(authenticateRequest(strategy, requestWith(external))).resolves.toBeTruthy();
    const noAmr = await signToken(key, bitwardenClaims({ amr: ['pwd'] }));
    expect((await refusal(strategy, requestWith(noAmr))).reason).toBe('insufficient-scope');
    expect((await refusal(strategy, requestWith(noAmr))).status).toBe(403);
  });

  const now = nowSeconds();
  const refusals: [string, () => Promise<string> | string, string, 401 | 403][] = [
    ['no token', () => '', 'missing-token', 401],
    ['junk', () => 'not-a-jwt', 'malformed', 401],
    [
      'alg none',
      () => handMadeToken({ alg: 'none', typ: 'JWT' }, bitwardenClaims()),
      'unsupported-algorithm',
      401,
    ],
    [
      'HS256 signed with the public key',
      async () => handMadeToken({ alg: 'HS256', typ: 'JWT' }, bitwardenClaims(), await publicPem(key)),
      'unsupported-algorithm',
      401,
    ],
    ['expired', () => signToken(key, bitwardenClaims({ exp: now - 3600, nbf: now - 7200 })), 'expired', 401],
    ['not yet valid', () => signToken(key, bitwardenClaims({ nbf: now + 3600 })), 'not-yet-valid', 401],
    [
      'a foreign issuer',
      () => signToken(key, bitwardenClaims({ iss: 'https://evil.example' })),
      'wrong-issuer',
      401,
    ],
    ['no exp', () => signToken(key, bitwardenClaims({ exp: undefined })), 'missing-claim', 401],
    ['a bad typ', () => signToken(key, bitwardenClaims(), { typ: 'id+jwt' }), 'bad-type', 401],
    ['no sub', () => signToken(key, bitwardenClaims({ sub: undefined })), 'missing-claim', 401],
    [
      'no api scope',
      () => signToken(key, bitwardenClaims({ scope: ['internal'] })),
      'insufficient-scope',
      403,
    ],
    ['no amr', () => signToken(key, bitwardenClaims({ amr: [] })), 'insufficient-scope', 403],
  ];
  it.each(refusals)('refuses a user token with %s', async (_name, token, reason, status) => {
    const value = await token();
    const error = await refusal(strategy, requestWith(value === '' ? undefined : value));
    expect({ reason: error.reason, status: error.status }).toEqual({ reason, status });
  });

  it('refuses a token signed by another key with the same kid', async () => {
    const other = await createSigningKey('RS256', key.kid);
    const error = await refusal(strategy, requestWith(await signToken(other, bitwardenClaims())));
    expect(error.reason).toBe('bad-signature');
  });

  it('the internal strategy wants scope internal: 403 for a user token, the claims for an internal one', async () => {
    const user = await signToken(key, bitwardenClaims());
    expect(await refusal(internal, requestWith(user))).toMatchObject({
      reason: 'insufficient-scope',
      status: 403,
    });
    const token = await signToken(key, {
      iss: issuer,
      exp: nowSeconds() + 600,
      scope: ['internal'],
      client_id: 'internal.Api',
    });
    await expect(authenticateRequest(internal, requestWith(token))).resolves.toMatchObject({
      scope: ['internal'],
    });
  });

  describe('keys from a JWKS URL and an OIDC authority', () => {
    let server: KeyServer;
    let ecKey: SigningKey;

    beforeAll(async () => {
      server = await KeyServer.start();
      ecKey = await createSigningKey('ES256', 'ec-1');
      server.keys = [await publicJwk(ecKey)];
    });
    afterAll(() => server.close());

    it('verifies ES256 by kid, refuses an unknown kid, and verifies each token once', async () => {
      for (const jwks of [
        await JwtStrategy.create({ jwksUrl: server.jwksUrl }),
        await JwtStrategy.create({ authority: server.authority }),
      ]) {
        const token = await signToken(ecKey, bitwardenClaims());
        const fetched = server.count(jwksPath);
        await expect(authenticateRequest(jwks, requestWith(token))).resolves.toBeTruthy();
        await expect(authenticateRequest(jwks, requestWith(token, 'query'))).resolves.toBeTruthy();
        expect(server.count(jwksPath)).toBe(fetched + 1);
        const stranger = await createSigningKey('ES256', 'ec-unknown');
        const error = await refusal(jwks, requestWith(await signToken(stranger, bitwardenClaims())));
        expect(error.reason).toBe('unknown-key');
      }
    });
  });
});
