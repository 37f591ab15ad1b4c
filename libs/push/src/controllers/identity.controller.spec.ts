import { randomBytes, randomUUID } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import { HttpException } from '@nestjs/common';
import { type Request } from 'express';
import { pino } from 'pino';

import { authenticateRequest } from '@herald/auth';
import { type Database } from '@herald/persistence';
import { loadConfig } from '@herald/platform';

import { pushConfigSchema } from '../config/push.config';
import { RelayTokensService } from '../services/relay-tokens.service';
import { IdentityController } from './identity.controller';
import { RelayStrategy } from './relay.strategy';

const installationId = randomUUID();
const installationKey = `key-${randomUUID()}`;
const otherInstallationId = randomUUID();
const otherInstallationKey = `key-${randomUUID()}`;
const keys = new Map<string, string>([
  [installationId, installationKey],
  [otherInstallationId, otherInstallationKey],
]);

interface Options {
  trustedProxies?: string;
  /** Holds every key check until the test lets them go (the scrypt hash takes that long). */
  slowVerify?: Promise<void>;
}

/** The controller with a registry of two installations, and a clock the test moves by hand. */
function identity(options: Options = {}) {
  const secret = randomBytes(32);
  const database = {
    installations: {
      verify: async (id: string, key: string) => {
        await options.slowVerify;
        return keys.get(id) === key ? { id, enabled: true } : undefined;
      },
      findById: (id: string) => Promise.resolve(keys.has(id) ? { id, enabled: true } : undefined),
    },
    secrets: { getOrCreate: () => Promise.resolve(secret) },
  } as unknown as Database;
  let now = 1_000_000;
  const tokens = new RelayTokensService(database);
  const config = loadConfig(pushConfigSchema, { HERALD_TRUSTED_PROXIES: options.trustedProxies });
  const controller = new IdentityController(database, tokens, config, pino({ level: 'silent' }), () => now);
  const request = (
    address: string,
    secret: string,
    { grantType = 'client_credentials', installation = installationId, forwardedFor = '' } = {},
  ) =>
    controller
      .token(
        {
          socket: { remoteAddress: address },
          headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
        } as unknown as Request,
        {
          grant_type: grantType,
          scope: 'api.push',
          client_id: `installation.${installation}`,
          client_secret: secret,
        },
      )
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
      expect(await request('10.0.0.1', installationKey, { grantType: 'password' })).toMatchObject({
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

  it('counts guesses that run at the same time as they arrive, not once each is hashed', async () => {
    let letGo!: () => void;
    const { request } = identity({ slowVerify: new Promise<void>((resolve) => (letGo = resolve)) });
    // Twenty wrong keys at once: none has been checked when the last one arrives.
    const guesses = Array.from({ length: 20 }, () => request('10.0.0.1', 'wrong'));
    letGo();
    const statuses = (await Promise.all(guesses)).map((answer) => answer.status);
    expect(statuses.filter((status) => status === 400)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(10);
  });

  it('behind a trusted proxy, limits the client the proxy names, not the proxy', async () => {
    const { request } = identity({ trustedProxies: '10.0.0.0/8' });
    const viaProxy = (client: string, secret: string) =>
      request('10.0.0.7', secret, { forwardedFor: `${client}, 10.0.0.3` });
    for (let attempt = 0; attempt < 10; attempt += 1) await viaProxy('203.0.113.9', 'wrong');
    expect(await viaProxy('203.0.113.9', installationKey)).toMatchObject({ status: 429 });
    // Another client of the same proxy renews its token as ever.
    expect(await viaProxy('198.51.100.1', installationKey)).toMatchObject({ status: 200 });
    // A header from a peer that is no trusted proxy is not believed: that peer is the client.
    for (let attempt = 0; attempt < 10; attempt += 1) {
      await request('192.0.2.1', 'wrong', { forwardedFor: `198.51.100.${attempt}` });
    }
    expect(await request('192.0.2.1', installationKey, { forwardedFor: '198.51.100.99' })).toMatchObject({
      status: 429,
    });
  });

  it('limits each installation on its own: guessing one does not block another from that address', async () => {
    const { request } = identity();
    for (let attempt = 0; attempt < 10; attempt += 1) await request('10.0.0.1', 'wrong');
    expect(await request('10.0.0.1', installationKey)).toMatchObject({ status: 429 });
    expect(
      await request('10.0.0.1', otherInstallationKey, { installation: otherInstallationId }),
    ).toMatchObject({ status: 200 });
  });
});
