import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';

import { eventually, FakeApns, fakeApnsKey } from '@herald/testing';

import { ApnsSender, type ApnsOptions } from './apns.sender';
import { type MobilePush, PushProviderConfigError } from './send-outcome';

const push: MobilePush = { type: 5, payload: { userId: 'u1', date: '2024-01-01T00:00:00Z' } };
const deviceToken = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('ApnsSender against a fake APNs', () => {
  let apns: FakeApns;
  let options: ApnsOptions;
  let sender: ApnsSender;

  beforeAll(async () => {
    apns = await FakeApns.start({ topic: 'com.example.herald' });
    options = {
      key: apns.key.pem,
      keyId: apns.key.keyId,
      teamId: apns.key.teamId,
      topic: 'com.example.herald',
      host: apns.url,
      timeoutMs: 2000,
    };
  });

  afterAll(async () => {
    await apns.stop();
  });

  beforeEach(async () => {
    sender = await ApnsSender.create(options);
    apns.received.length = 0;
    apns.sessions = 0;
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await sender.close();
  });

  it('sends a background notification with data.type a number and data.payload a JSON string', async () => {
    const before = Math.floor(Date.now() / 1000);
    expect(await sender.send(deviceToken, push)).toEqual({ kind: 'sent' });

    expect(apns.received).toHaveLength(1);
    const request = apns.received[0]!;
    expect(request.deviceToken).toBe(deviceToken);
    expect(request.raw).toBe(
      '{"aps":{"content-available":1},"data":{"type":5,"payload":"{\\"userId\\":\\"u1\\",\\"date\\":\\"2024-01-01T00:00:00Z\\"}"}}',
    );
    expect(request.headers).toMatchObject({
      ':method': 'POST',
      ':path': `/3/device/${deviceToken}`,
      'apns-topic': 'com.example.herald',
      'apns-push-type': 'background',
      'apns-priority': '5',
    });
    expect(request.headers.authorization).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(request.providerToken.header).toEqual({ alg: 'ES256', kid: apns.key.keyId });
    expect(Object.keys(request.providerToken.claims).sort()).toEqual(['iat', 'iss']);
    expect(request.providerToken.claims.iss).toBe(apns.key.teamId);
    expect(request.providerToken.claims.iat).toBeGreaterThanOrEqual(before);
  });

  it('shares one HTTP/2 session and one provider token among concurrent sends', async () => {
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => sender.send(deviceToken, push)));
    outcomes.push(await sender.send(deviceToken, push));

    expect(outcomes.every((outcome) => outcome.kind === 'sent')).toBe(true);
    expect(apns.received).toHaveLength(21);
    expect(apns.sessions).toBe(1);
    expect(new Set(apns.received.map((request) => request.headers.authorization)).size).toBe(1);
  });

  it('renews the provider token after 40 minutes', async () => {
    await sender.send(deviceToken, push);
    const start = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(start + 39 * 60_000);
    await sender.send(deviceToken, push);
    clock.mockReturnValue(start + 41 * 60_000);
    await sender.send(deviceToken, push);

    const [first, second, third] = apns.received.map((request) => request.providerToken.claims.iat!);
    expect(second).toBe(first);
    expect(third! - first!).toBeGreaterThanOrEqual(41 * 60 - 1);
  });

  it('reconnects when APNs closes the connection', async () => {
    expect(await sender.send(deviceToken, push)).toEqual({ kind: 'sent' });
    apns.dropConnections();

    // A send racing the GOAWAY may come back as retry; the next one goes over a new session.
    await eventually(async () => expect(await sender.send(deviceToken, push)).toEqual({ kind: 'sent' }));
    expect(apns.sessions).toBe(2);
  });

  it('signs a new provider token on 403 ExpiredProviderToken and resends once', async () => {
    apns.respondWith(403, 'ExpiredProviderToken');

    expect(await sender.send(deviceToken, push)).toEqual({ kind: 'sent' });
    expect(apns.received).toHaveLength(2);
    const [stale, fresh] = apns.received.map((request) => request.headers.authorization);
    expect(fresh).not.toBe(stale);
    // The renewed token is kept for later sends.
    await sender.send(deviceToken, push);
    expect(apns.received[2]!.headers.authorization).toBe(fresh);
  });

  it('retries when a renewed provider token is still called expired', async () => {
    apns.respondWith(403, 'ExpiredProviderToken').respondWith(403, 'ExpiredProviderToken');

    expect(await sender.send(deviceToken, push)).toMatchObject({
      kind: 'retry',
      reason: 'APNs 403 ExpiredProviderToken',
    });
    expect(apns.received).toHaveLength(2);
  });

  it('retries on 500, 503 and 429, honouring Retry-After', async () => {
    apns
      .respondWith(500, 'InternalServerError')
      .respondWith(503, 'ServiceUnavailable', '30')
      .respondWith(429, 'TooManyRequests', '3');

    expect(await sender.send(deviceToken, push)).toEqual({
      kind: 'retry',
      reason: 'APNs 500 InternalServerError',
      retryAfterMs: undefined,
    });
    expect(await sender.send(deviceToken, push)).toEqual({
      kind: 'retry',
      reason: 'APNs 503 ServiceUnavailable',
      retryAfterMs: 30_000,
    });
    expect(await sender.send(deviceToken, push)).toEqual({
      kind: 'retry',
      reason: 'APNs 429 TooManyRequests',
      retryAfterMs: 3000,
    });
  });

  it('reports a dead device token as gone: 410, BadDeviceToken, DeviceTokenNotForTopic', async () => {
    apns
      .respondWith(410, 'Unregistered')
      .respondWith(400, 'BadDeviceToken')
      .respondWith(400, 'DeviceTokenNotForTopic');

    expect(await sender.send(deviceToken, push)).toEqual({ kind: 'gone', reason: 'APNs 410 Unregistered' });
    expect(await sender.send(deviceToken, push)).toEqual({ kind: 'gone', reason: 'APNs 400 BadDeviceToken' });
    expect(await sender.send(deviceToken, push)).toEqual({
      kind: 'gone',
      reason: 'APNs 400 DeviceTokenNotForTopic',
    });
  });

  it('rejects on other 4xx with the reason APNs gives', async () => {
    apns
      .respondWith(400, 'BadPriority')
      .respondWith(413, 'PayloadTooLarge')
      .respondWith(403, 'InvalidProviderToken');

    expect(await sender.send(deviceToken, push)).toEqual({
      kind: 'rejected',
      reason: 'APNs 400 BadPriority',
    });
    expect(await sender.send(deviceToken, push)).toEqual({
      kind: 'rejected',
      reason: 'APNs 413 PayloadTooLarge',
    });
    expect(await sender.send(deviceToken, push)).toEqual({
      kind: 'rejected',
      reason: 'APNs 403 InvalidProviderToken',
    });
  });

  it('reads no more than 16 KiB of an answer: past that, only the status is left to decide on', async () => {
    apns.respondWith(400, 'x'.repeat(4_000_000)).respondWith(400, 'BadPriority');

    expect(await sender.send(deviceToken, push)).toEqual({ kind: 'rejected', reason: 'APNs 400' });
    // The stream it stopped reading was cancelled; the session goes on.
    expect(await sender.send(deviceToken, push)).toEqual({
      kind: 'rejected',
      reason: 'APNs 400 BadPriority',
    });
  });

  it('is refused by the real checks of the fake when misconfigured', async () => {
    const wrongTopic = await ApnsSender.create({ ...options, topic: 'com.example.other' });
    const wrongTeam = await ApnsSender.create({ ...options, teamId: 'ZZZZZZZZZZ' });
    try {
      expect(await wrongTopic.send(deviceToken, push)).toEqual({
        kind: 'gone',
        reason: 'APNs 400 DeviceTokenNotForTopic',
      });
      expect(await wrongTeam.send(deviceToken, push)).toEqual({
        kind: 'rejected',
        reason: 'APNs 403 InvalidProviderToken',
      });
      expect(apns.received).toHaveLength(0);
    } finally {
      await wrongTopic.close();
      await wrongTeam.close();
    }
  });

  it('retries when APNs does not answer within the timeout, and keeps the session', async () => {
    const impatient = await ApnsSender.create({ ...options, timeoutMs: 1500 });
    try {
      apns.stallNext();
      expect(await impatient.send(deviceToken, push)).toEqual({
        kind: 'retry',
        reason: 'APNs request failed: timed out',
      });
      expect(await impatient.send(deviceToken, push)).toEqual({ kind: 'sent' });
      expect(apns.sessions).toBe(1);
    } finally {
      await impatient.close();
    }
  });

  it('retries when the connection is refused', async () => {
    const port = await closedPort();
    const unreachable = await ApnsSender.create({ ...options, host: `http://127.0.0.1:${port}` });
    try {
      const outcomes = await Promise.all([
        unreachable.send(deviceToken, push),
        unreachable.send(deviceToken, push),
      ]);
      expect(outcomes).toEqual([
        { kind: 'retry', reason: 'APNs request failed: ECONNREFUSED' },
        { kind: 'retry', reason: 'APNs request failed: ECONNREFUSED' },
      ]);
    } finally {
      await unreachable.close();
    }
  });
});

describe('ApnsSender.create', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'herald-apns-'));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('reads the .p8 key from a file path', async () => {
    const apns = await FakeApns.start();
    const path = join(directory, 'AuthKey.p8');
    await writeFile(path, apns.key.pem);
    const sender = await ApnsSender.create({
      key: path,
      keyId: apns.key.keyId,
      teamId: apns.key.teamId,
      topic: apns.topic,
      host: apns.url,
    });
    try {
      expect(await sender.send(deviceToken, push)).toEqual({ kind: 'sent' });
    } finally {
      await sender.close();
      await apns.stop();
    }
  });

  const key = fakeApnsKey();
  const valid: ApnsOptions = {
    key: key.pem,
    keyId: key.keyId,
    teamId: key.teamId,
    topic: 'com.example.herald',
  };
  const rsaPem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

  it.each([
    [
      'a key that is neither PEM nor a file',
      { key: '/nonexistent/AuthKey.p8' },
      /neither inline content nor a readable file/,
    ],
    [
      'a garbled PEM',
      { key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' },
      /not a PEM private key/,
    ],
    ['an RSA key', { key: rsaPem }, /not an EC P-256 key/],
    ['a missing key id', { keyId: '' }, /keyId is missing/],
    ['a missing team id', { teamId: ' ' }, /teamId is missing/],
    ['a missing topic', { topic: '' }, /topic is missing/],
    ['a host that is not a URL', { host: 'staging' }, /production, sandbox or a URL/],
    ['a host that is not http(s)', { host: 'ftp://example.com' }, /must be https/],
  ])('refuses %s', async (_label, override, message) => {
    const error = await ApnsSender.create({ ...valid, ...override }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PushProviderConfigError);
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    ['production', 'https://api.push.apple.com'],
    ['sandbox', 'https://api.sandbox.push.apple.com'],
    [' sandbox ', 'https://api.sandbox.push.apple.com'],
    [undefined, 'https://api.push.apple.com'],
    ['https://apns.example:8443/ignored/path', 'https://apns.example:8443'],
  ])('sends to the origin that host %p resolves to, without connecting first', async (host, origin) => {
    const sender = await ApnsSender.create({ ...valid, host });
    try {
      expect(sender.origin).toBe(origin);
    } finally {
      await sender.close();
    }
  });

  it('sends to the server a host URL names, whatever path follows it', async () => {
    const apns = await FakeApns.start({ key, topic: valid.topic });
    const sender = await ApnsSender.create({ ...valid, host: `${apns.url}/ignored/path?query` });
    try {
      expect(await sender.send(deviceToken, push)).toEqual({ kind: 'sent' });
      expect(apns.received.map((request) => request.headers[':path'])).toEqual([`/3/device/${deviceToken}`]);
    } finally {
      await sender.close();
      await apns.stop();
    }
  });
});
