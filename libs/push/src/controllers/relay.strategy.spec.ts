import { randomBytes, randomUUID } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import { type Request } from 'express';
import { SignJWT } from 'jose';

import { authenticateRequest, AuthError } from '@herald/auth';
import { type Database } from '@herald/persistence';

import { RelayTokensService } from '../services/relay-tokens.service';
import { RelayStrategy } from './relay.strategy';

const secret = randomBytes(32);
const tokens = new RelayTokensService({
  secrets: { getOrCreate: () => Promise.resolve(secret) },
} as unknown as Database);
const strategy = new RelayStrategy(tokens);

const bearer = (token: string, scheme = 'Bearer') =>
  ({ headers: { authorization: `${scheme} ${token}` }, url: '/push/send' }) as unknown as Request;

function sign(
  claims: Record<string, unknown>,
  options: { key?: Uint8Array; issuer?: string; expiresIn?: string } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setIssuer(options.issuer ?? 'herald-push')
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(options.key ?? secret);
}

async function refused(request: Request): Promise<boolean> {
  return authenticateRequest(strategy, request).then(
    () => false,
    (error: unknown) => error instanceof AuthError,
  );
}

describe('RelayStrategy', () => {
  it('returns the installation of a token the relay token service issued', async () => {
    const installationId = randomUUID();
    const { token } = await tokens.issue(installationId);
    expect(await authenticateRequest(strategy, bearer(token))).toEqual({ installationId });
    expect(await authenticateRequest(strategy, bearer(token, 'bearer'))).toEqual({ installationId });
  });

  it('refuses foreign, expired, unscoped and misplaced tokens', async () => {
    const claims = { client_sub: randomUUID(), scope: ['api.push'] };
    const { token } = await tokens.issue(randomUUID());
    expect(await refused(bearer(await sign(claims, { key: randomBytes(32) })))).toBe(true);
    expect(await refused(bearer(await sign(claims, { issuer: 'someone-else' })))).toBe(true);
    expect(await refused(bearer(await sign(claims, { expiresIn: '-1h' })))).toBe(true);
    expect(await refused(bearer(await sign({ ...claims, scope: ['api'] })))).toBe(true);
    expect(await refused(bearer(await sign({ scope: ['api.push'] })))).toBe(true);
    expect(await refused(bearer(token, 'Basic'))).toBe(true);
    expect(
      await refused({ headers: {}, url: `/push/send?access_token=${token}` } as unknown as Request),
    ).toBe(true);
  });
});
