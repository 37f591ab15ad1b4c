import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { BROKER_TRANSPORT } from '@herald/messaging';
import { type Database } from '@herald/persistence';
import { loadConfig } from '@herald/platform';
import { listenOnLoopback, type TestApp, TestIssuer } from '@herald/testing';

import { pushConfigSchema } from '../config/push.config';
import { PushModule } from '../push.module';
import { PUSH_DATABASE } from '../push.tokens';

/** The browser extension registering its subscription: where the endpoint may point is checked first. */
describe('Web Push registration', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-web-push-registration-'));
  const userId = randomUUID();
  let issuer: TestIssuer;
  let service: TestApp;
  let database: Database;

  beforeAll(async () => {
    issuer = await TestIssuer.create();
    const config = loadConfig(pushConfigSchema, {
      HERALD_DATA_DIR: dataDir,
      HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
      HERALD_WEBPUSH_ALLOWED_HOSTS: 'push.internal',
    });
    service = await listenOnLoopback(
      PushModule.forRoot({ config, logger: pino({ level: 'silent' }), messaging: { engine: 'memory' } }),
      undefined,
      BROKER_TRANSPORT,
    );
    database = service.app.get(PUSH_DATABASE);
  });

  afterAll(async () => {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Registers `endpoint` for a new extension of the user; its identifier and the answer. */
  const register = async (endpoint: string) => {
    const identifier = randomUUID();
    const token = await issuer.userToken(userId, { device: identifier, devicetype: 'ChromeExtension' });
    const response = await fetch(`${service.url}/devices/identifier/${identifier}/web-push-auth`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        endpoint,
        p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
        auth: 'tBHItJI5svbpez7KI4CCXg',
      }),
    });
    return {
      identifier,
      status: response.status,
      body: await response.json().catch((): unknown => null),
    };
  };

  it.each([
    [
      'https://localhost/push/x',
      /^endpoint: localhost resolves to (127\.0\.0\.1|::1) \((unspecified or )?loopback\)$/,
    ],
    ['https://10.0.0.1/push/x', /^endpoint: 10\.0\.0\.1 \(private\)$/],
    ['https://[::ffff:192.168.0.1]/push/x', /^endpoint: ::ffff:c0a8:1 \(private\)$/],
    ['https://169.254.169.254/latest/meta-data', /^endpoint: 169\.254\.169\.254 \(link-local\)$/],
    ['http://8.8.8.8/push/x', /^endpoint: expected an https URL/],
    ['https://does-not-exist.invalid/push/x', /^endpoint: does-not-exist\.invalid does not resolve/],
  ])('refuses %s with a 400 naming why, and stores nothing', async (endpoint, message) => {
    const { identifier, status, body } = await register(endpoint);

    expect(status).toBe(400);
    expect(body).toMatchObject({
      error: 'invalid_request',
      field: 'endpoint',
      message: expect.stringMatching(message),
    });
    expect(await database.devices.findByIdentifier(null, userId, identifier)).toBeUndefined();
  });

  it.each(['https://8.8.8.8/wpush/v2/abc', 'http://push.internal:8080/push/x'])(
    'stores %s: a public address, or a host the operator allowed',
    async (endpoint) => {
      const { identifier, status } = await register(endpoint);

      expect(status).toBe(200);
      expect(await database.devices.findByIdentifier(null, userId, identifier)).toMatchObject({
        provider: 'webpush',
        webPush: { endpoint },
      });
    },
  );
});
