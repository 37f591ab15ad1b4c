import { randomBytes, randomUUID } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import { type Request } from 'express';
import { SignJWT } from 'jose';

import { authenticateRequest, AuthError } from '@herald/auth';
import { type Database } from '@herald/persistence';

import { RelayTokensService } from '../services/relay-tokens.service';
import { RelayStrategy } from './relay.strategy';

const secret = randomBytes(32);
/** Installations by id and whether they are enabled; an id that is not here does not exist. */
const installations = new Map<string, boolean>();
/** How the next loads of the signing secret go: a queued error fails one load. */
const secretLoads: Error[] = [];
const database = {
  secrets: {
    getOrCreate: () => {
      const failure = secretLoads.shift();
      return failure ? Promise.reject(failure) : Promise.resolve(secret);
    },
  },
  installations: {
    findById: (id: string) => {
      const enabled = installations.get(id);
      return Promise.resolve(enabled === undefined ? undefined : { id, enabled, createdAt: new Date(0) });
    },
  },
} as unknown as Database;
const tokens = new RelayTokensService(database);
const strategy = new RelayStrategy(tokens);

/** A new installation, enabled. */
function installation(): string {
  const id = randomUUID();
  installations.set(id, true);
  return id;
}

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
    const installationId = installation();
    const { token } = await tokens.issue(installationId);
    expect(await authenticateRequest(strategy, bearer(token))).toEqual({ installationId });
    expect(await authenticateRequest(strategy, bearer(token, 'bearer'))).toEqual({ installationId });
  });

  it('refuses foreign, expired, unscoped and misplaced tokens', async () => {
    const claims = { client_sub: installation(), scope: ['api.push'] };
    const { token } = await tokens.issue(installation());
    expect(await refused(bearer(await sign(claims)))).toBe(false);
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

  it('refuses the tokens of an installation as soon as it is disabled, and of one that is gone', async () => {
    const installationId = installation();
    const { token } = await tokens.issue(installationId);
    expect(await refused(bearer(token))).toBe(false);

    installations.set(installationId, false);
    expect(await refused(bearer(token))).toBe(true);
    installations.set(installationId, true);
    expect(await refused(bearer(token))).toBe(false);
    installations.delete(installationId);
    expect(await refused(bearer(token))).toBe(true);
  });

  it('loads the signing secret again after a failed load, instead of failing for good', async () => {
    // A service of its own: the secret is loaded on first use.
    const fresh = new RelayTokensService(database);
    const installationId = installation();
    secretLoads.push(new Error('connection terminated unexpectedly'));

    await expect(fresh.issue(installationId)).rejects.toThrow('connection terminated unexpectedly');

    const { token } = await fresh.issue(installationId);
    expect(await authenticateRequest(new RelayStrategy(fresh), bearer(token))).toEqual({ installationId });
  });
});
