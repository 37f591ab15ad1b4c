import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';

import { FakeFcm } from '@herald/testing';

import { FcmSender } from './fcm.sender';
import { type MobilePush, PushProviderConfigError } from './send-outcome';

const push: MobilePush = {
  type: 3,
  payload: { id: 'c1', userId: 'u1', revisionDate: '2024-01-01T00:00:00Z' },
};
const token = 'fcm-registration-token-0123456789abcdef';

function fcmError(code: number, status: string, message: string, errorCode?: string): unknown {
  return {
    error: {
      code,
      message,
      status,
      details: errorCode
        ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }]
        : [],
    },
  };
}

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('FcmSender against a fake FCM', () => {
  let fcm: FakeFcm;
  let serviceAccount: string;
  let sender: FcmSender;

  beforeAll(async () => {
    fcm = await FakeFcm.start();
    serviceAccount = fcm.fakeServiceAccount('herald-test');
  });

  afterAll(async () => {
    await fcm.stop();
  });

  beforeEach(async () => {
    sender = await FcmSender.create({
      serviceAccount,
      apiUrl: fcm.apiUrl,
      tokenUrl: fcm.tokenUrl,
      timeoutMs: 2000,
    });
    fcm.received.length = 0;
    fcm.assertions.length = 0;
    fcm.tokenRequests = 0;
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('sends a data message with type and payload as strings, authenticated by a JWT-bearer grant', async () => {
    expect(await sender.send(token, push)).toEqual({ kind: 'sent' });

    expect(fcm.received).toHaveLength(1);
    expect(fcm.received[0]!.raw).toBe(
      JSON.stringify({
        message: {
          token,
          data: { type: '3', payload: '{"id":"c1","userId":"u1","revisionDate":"2024-01-01T00:00:00Z"}' },
          android: { priority: 'high' },
        },
      }),
    );
    expect(fcm.received[0]).toMatchObject({ project: 'herald-test', token, android: { priority: 'high' } });
    const claims = fcm.assertions[0]!;
    expect(claims).toMatchObject({
      iss: JSON.parse(serviceAccount).client_email,
      scope: 'https://www.googleapis.com/auth/firebase.messaging',
      aud: fcm.tokenUrl,
    });
    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it('reuses one access token for many sends, concurrent ones included', async () => {
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => sender.send(token, push)));
    outcomes.push(await sender.send(token, push));

    expect(outcomes.every((outcome) => outcome.kind === 'sent')).toBe(true);
    expect(fcm.received).toHaveLength(11);
    expect(fcm.tokenRequests).toBe(1);
  });

  it('fetches a new access token shortly before the old one expires', async () => {
    await sender.send(token, push);
    const later = Date.now() + 3599_000 - 30_000;
    jest.spyOn(Date, 'now').mockReturnValue(later);

    expect(await sender.send(token, push)).toEqual({ kind: 'sent' });
    expect(fcm.tokenRequests).toBe(2);
  });

  it('refreshes the access token once on 401 and resends', async () => {
    await sender.send(token, push);
    fcm.revokeAccessTokens();

    expect(await sender.send(token, push)).toEqual({ kind: 'sent' });
    expect(fcm.tokenRequests).toBe(2);
    expect(fcm.received).toHaveLength(2);
  });

  it('gives up after one refresh when 401 persists', async () => {
    fcm.respondWith(401, fcmError(401, 'UNAUTHENTICATED', 'invalid credentials'));
    fcm.respondWith(401, fcmError(401, 'UNAUTHENTICATED', 'invalid credentials'));

    expect(await sender.send(token, push)).toMatchObject({
      kind: 'retry',
      reason: expect.stringContaining('401'),
    });
    expect(fcm.tokenRequests).toBe(2);
    expect(fcm.received).toHaveLength(2);
  });

  it('retries on 500 and 503', async () => {
    fcm.respondWith(500, fcmError(500, 'INTERNAL', 'Internal error encountered.', 'INTERNAL'));
    fcm.respondWith(
      503,
      fcmError(503, 'UNAVAILABLE', 'The service is currently unavailable.', 'UNAVAILABLE'),
    );

    expect(await sender.send(token, push)).toEqual({
      kind: 'retry',
      reason: 'FCM 500 INTERNAL: Internal error encountered.',
      retryAfterMs: undefined,
    });
    expect(await sender.send(token, push)).toMatchObject({
      kind: 'retry',
      reason: expect.stringContaining('503'),
    });
  });

  it('retries on 429 after the Retry-After delay', async () => {
    fcm.respondWith(429, fcmError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded.', 'QUOTA_EXCEEDED'), {
      'Retry-After': '7',
    });

    expect(await sender.send(token, push)).toEqual({
      kind: 'retry',
      reason: 'FCM 429 QUOTA_EXCEEDED: Quota exceeded.',
      retryAfterMs: 7000,
    });
  });

  it('reports a dead registration as gone: 404 UNREGISTERED, invalid token, sender mismatch', async () => {
    fcm.respondWith(404, fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED'));
    fcm.respondWith(
      400,
      fcmError(
        400,
        'INVALID_ARGUMENT',
        'The registration token is not a valid FCM registration token',
        'INVALID_ARGUMENT',
      ),
    );
    fcm.respondWith(403, fcmError(403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH'));

    expect(await sender.send(token, push)).toEqual({
      kind: 'gone',
      reason: 'FCM 404 UNREGISTERED: Requested entity was not found.',
    });
    expect(await sender.send(token, push)).toMatchObject({
      kind: 'gone',
      reason: expect.stringContaining('400'),
    });
    expect(await sender.send(token, push)).toMatchObject({
      kind: 'gone',
      reason: expect.stringContaining('SENDER_ID_MISMATCH'),
    });
  });

  it('rejects the message on other 400s and on 403', async () => {
    fcm.respondWith(
      400,
      fcmError(400, 'INVALID_ARGUMENT', "Invalid value at 'message.data[0].value' (TYPE_STRING), 12"),
    );
    fcm.respondWith(403, fcmError(403, 'PERMISSION_DENIED', 'Permission denied.'));

    expect(await sender.send(token, push)).toEqual({
      kind: 'rejected',
      reason: "FCM 400 INVALID_ARGUMENT: Invalid value at 'message.data[0].value' (TYPE_STRING), 12",
    });
    expect(await sender.send(token, push)).toMatchObject({ kind: 'rejected' });
  });

  it('reads no more than 16 KiB of an answer: past that, only the status is left to decide on', async () => {
    fcm.respondWith(500, fcmError(500, 'INTERNAL', 'x'.repeat(4_000_000), 'INTERNAL'));

    expect(await sender.send(token, push)).toEqual({ kind: 'retry', reason: 'FCM 500' });
  });

  it('never puts the whole device token in a reason', async () => {
    fcm.respondWith(400, fcmError(400, 'INVALID_ARGUMENT', `Bad token ${token}`));

    const outcome = await sender.send(token, push);
    expect(outcome).toMatchObject({ kind: 'rejected' });
    expect(JSON.stringify(outcome)).not.toContain(token);
  });

  it('retries when FCM does not answer within the timeout', async () => {
    const impatient = await FcmSender.create({
      serviceAccount,
      apiUrl: fcm.apiUrl,
      tokenUrl: fcm.tokenUrl,
      timeoutMs: 1500,
    });
    fcm.stallNext();

    expect(await impatient.send(token, push)).toEqual({
      kind: 'retry',
      reason: 'FCM request failed: timed out',
    });
    expect(await impatient.send(token, push)).toEqual({ kind: 'sent' });
  });

  it('retries when FCM refuses the connection', async () => {
    const port = await closedPort();
    const unreachable = await FcmSender.create({
      serviceAccount,
      apiUrl: `http://127.0.0.1:${port}`,
      tokenUrl: fcm.tokenUrl,
    });

    expect(await unreachable.send(token, push)).toEqual({
      kind: 'retry',
      reason: 'FCM request failed: ECONNREFUSED',
    });
  });

  it('retries when the token endpoint is unreachable, rejects when it refuses the account', async () => {
    const port = await closedPort();
    const noTokens = await FcmSender.create({
      serviceAccount,
      apiUrl: fcm.apiUrl,
      tokenUrl: `http://127.0.0.1:${port}/token`,
    });
    const other = await FakeFcm.start();
    const unknownAccount = await FcmSender.create({
      serviceAccount: other.fakeServiceAccount('herald-test'),
      apiUrl: fcm.apiUrl,
      tokenUrl: fcm.tokenUrl,
    });
    await other.stop();

    expect(await noTokens.send(token, push)).toEqual({
      kind: 'retry',
      reason: 'FCM token request failed: ECONNREFUSED',
    });
    expect(await unknownAccount.send(token, push)).toEqual({
      kind: 'rejected',
      reason: 'FCM token endpoint answered 400: invalid_grant: Invalid grant: account not found',
    });
    expect(fcm.received).toHaveLength(0);
  });
});

describe('FcmSender.create', () => {
  let fcm: FakeFcm;
  let serviceAccount: Record<string, unknown>;
  let directory: string;

  beforeAll(async () => {
    fcm = await FakeFcm.start();
    serviceAccount = JSON.parse(fcm.fakeServiceAccount('from-file'));
    directory = await mkdtemp(join(tmpdir(), 'herald-fcm-'));
  });

  afterAll(async () => {
    await fcm.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it('reads the service account from a file path', async () => {
    const path = join(directory, 'service-account.json');
    await writeFile(path, JSON.stringify(serviceAccount));
    const sender = await FcmSender.create({
      serviceAccount: path,
      apiUrl: fcm.apiUrl,
      tokenUrl: fcm.tokenUrl,
    });

    expect(await sender.send(token, push)).toEqual({ kind: 'sent' });
    expect(fcm.received[0]!.project).toBe('from-file');
  });

  it.each([
    [
      'text that is neither JSON nor a file',
      '/nonexistent/service-account.json',
      /neither inline content nor a readable file \(ENOENT\)/,
    ],
    ['broken JSON', '{"project_id": ', /not valid JSON/],
    ['a JSON array', '[]', /not valid JSON|not a JSON object/],
  ])('refuses %s', async (_label, value, message) => {
    await expect(FcmSender.create({ serviceAccount: value })).rejects.toThrow(message);
  });

  it.each(['project_id', 'client_email', 'private_key'])('names the missing field %s', async (field) => {
    const broken = JSON.stringify({ ...serviceAccount, [field]: undefined });
    const error = await FcmSender.create({ serviceAccount: broken }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(PushProviderConfigError);
    expect((error as Error).message).toBe(`The FCM service account lacks "${field}"`);
  });

  it('refuses a private_key that is not an RSA PEM key', async () => {
    const garbled = JSON.stringify({
      ...serviceAccount,
      private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
    });

    await expect(FcmSender.create({ serviceAccount: garbled })).rejects.toThrow(
      'The FCM service account\'s "private_key" is not a PEM private key',
    );
  });

  it('refuses an API URL that is not http(s)', async () => {
    await expect(
      FcmSender.create({ serviceAccount: JSON.stringify(serviceAccount), apiUrl: 'ftp://example.com' }),
    ).rejects.toThrow('The FCM API URL must be http(s)');
  });
});
