import { randomBytes, randomUUID } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import { HttpException } from '@nestjs/common';
import { type Request } from 'express';
import { pino } from 'pino';

import { authenticateRequest } from '@herald/auth';
import { type Database } from '@herald/persistence';

import { RelayTokensService } from '../services/relay-tokens.service';
import { IdentityController } from './identity.controller';
import { RelayStrategy } from './relay.strategy';

const installationId = randomUUID();
const installationKey = `key-${randomUUID()}`;

/** The controller with an installation registry of one, and a clock the test moves by hand. */
function identity() {
  const secret = randomBytes(32);
  const database = {
    installations: {
      verify: (id: string, key: string) =>
        Promise.resolve(id === installationId && key === installationKey ? { id, enabled: true } : undefined),
      findById: (id: string) => Promise.resolve(id === installationId ? { id, enabled: true } : undefined),
    },
    secrets: { getOrCreate: () => Promise.resolve(secret) },
  } as unknown as Database;
  let now = 1_000_000;
  const tokens = new RelayTokensService(database);
  const controller = new IdentityController(database, tokens, pino({ level: 'silent' }), () => now);
  const request = (address: string, secret: string, grantType = 'client_credentials') =>
    controller
      .token({ socket: { remoteAddress: address } } as unknown as Request, {
        grant_type: grantType,
        scope: 'api.push',
        client_id: `installation.${installationId}`,
        client_secret: secret,
      })
      .then(
        (body) => ({ status: 200, body }),
        (error: unknown) => {
          if (!(error instanceof HttpException)) throw error;
          return { status: error.getStatus(), body: error.getResponse() };
        },
      );
  return { request, tokens, advance: (ms: number) => (now += ms) };
}

describe('POST /connect/token brute-force limit', () => {
  it('refuses an address after ten wrong keys within the minute, even with the right key', async () => {
    const { request } = identity();
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect(await request('10.0.0.1', 'wrong')).toMatchObject({
        status: 400,
        body: { error: 'invalid_client' },
      });
    }
    expect(await request('10.0.0.1', installationKey)).toMatchObject({
      status: 429,
      body: { error: 'too_many_requests' },
    });
    expect(await request('10.0.0.2', installationKey)).toMatchObject({ status: 200 });
  });

  it('lets the right key through once the minute has passed, with a token that verifies', async () => {
    const { request, tokens, advance } = identity();
    for (let attempt = 0; attempt < 10; attempt += 1) await request('10.0.0.1', 'wrong');
    advance(59_999);
    expect(await request('10.0.0.1', installationKey)).toMatchObject({ status: 429 });
    advance(1);
    const granted = await request('10.0.0.1', installationKey);
    expect(granted).toMatchObject({ status: 200, body: { token_type: 'Bearer', expires_in: 86_400 } });
    const token = (granted.body as { access_token: string }).access_token;
    const relayRequest = { headers: { authorization: `Bearer ${token}` } } as unknown as Request;
    expect(await authenticateRequest(new RelayStrategy(tokens), relayRequest)).toEqual({ installationId });
  });

  it('counts every refused request, not only wrong keys', async () => {
    const { request } = identity();
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect(await request('10.0.0.1', installationKey, 'password')).toMatchObject({
        status: 400,
        body: { error: 'unsupported_grant_type' },
      });
    }
    expect(await request('10.0.0.1', installationKey)).toMatchObject({ status: 429 });
  });

  it('does not count accepted requests', async () => {
    const { request } = identity();
    for (let attempt = 0; attempt < 9; attempt += 1) await request('10.0.0.1', 'wrong');
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect(await request('10.0.0.1', installationKey)).toMatchObject({ status: 200 });
    }
    expect(await request('10.0.0.1', 'wrong')).toMatchObject({ status: 400 });
    expect(await request('10.0.0.1', installationKey)).toMatchObject({ status: 429 });
  });
});
