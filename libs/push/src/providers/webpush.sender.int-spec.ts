import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { generateRequestDetails } from 'web-push';

import { eventually, FakeWebPushEndpoint, refusedPort } from '@herald/testing';

import { PushProviderConfigError } from './send-outcome';
import { WebPushEndpointPolicy } from './webpush-endpoint';
import { generateVapidKeys, type WebPushMessage, WebPushSender } from './webpush.sender';

const subject = 'mailto:ops@herald.test';
const vapid = generateVapidKeys();
const message: WebPushMessage = {
  type: 0,
  payload: {
    id: '7c2f0a5e-3b1d-4f6a-9e8c-1d2b3c4d5e6f',
    userId: '4c6b3f0e-94ab-4d7b-8e51-ab1200c0ffee',
    organizationId: null,
    collectionIds: null,
    revisionDate: '2025-01-31T12:00:00.000Z',
  },
  contextId: '0f8e2b1c-7d3a-4b5e-9c6f-1a2b3c4d5e6f',
};

/** The fake push services listen on loopback: the operator's allow-list lets the sender reach them. */
const loopbackAllowed = new WebPushEndpointPolicy(['127.0.0.1']);

function newSender(timeoutMs?: number, endpoints = loopbackAllowed): WebPushSender {
  return new WebPushSender({
    vapidPublicKey: vapid.publicKey,
    vapidPrivateKey: vapid.privateKey,
    subject,
    timeoutMs,
    endpoints,
  });
}

describe('WebPushSender against a Web Push service', () => {
  let service: FakeWebPushEndpoint;

  beforeEach(async () => {
    service = await FakeWebPushEndpoint.start();
  });

  afterEach(async () => {
    await service.stop();
  });

  it('delivers the data object encrypted for the subscription and signed with VAPID', async () => {
    const target = service.subscription('/wpush/v2/abc');
    const startedAt = Math.floor(Date.now() / 1000);

    expect(await newSender().send(target, message)).toEqual({ kind: 'sent' });

    expect(service.refusals).toEqual([]);
    expect(service.pushes).toHaveLength(1);
    const push = service.pushes[0]!;
    expect(push.path).toBe('/wpush/v2/abc');
    // What the extension reads as `e.data.json().data`: payload is a JSON string.
    expect(push.body).toEqual({
      data: {
        type: 0,
        payload:
          '{"id":"7c2f0a5e-3b1d-4f6a-9e8c-1d2b3c4d5e6f","userId":"4c6b3f0e-94ab-4d7b-8e51-ab1200c0ffee",' +
          '"organizationId":null,"collectionIds":null,"revisionDate":"2025-01-31T12:00:00.000Z"}',
        contextId: '0f8e2b1c-7d3a-4b5e-9c6f-1a2b3c4d5e6f',
      },
    });
    expect(push.ttl).toBe(86_400);
    expect(push.urgency).toBe('high');
    expect(push.headers['content-encoding']).toBe('aes128gcm');
    expect(push.headers['content-type']).toBe('application/octet-stream');
    expect(push.vapid.publicKey).toBe(vapid.publicKey);
    expect(push.vapid.claims).toMatchObject({ aud: service.origin, sub: subject });
    expect(push.vapid.claims.exp).toBeGreaterThan(startedAt);
    expect(push.vapid.claims.exp).toBeLessThanOrEqual(startedAt + 24 * 60 * 60 + 1);
  });

  it('sends a null contextId and non-ASCII payloads intact', async () => {
    const target = service.subscription();
    const outcome = await newSender().send(target, {
      type: 11,
      payload: { userId: 'u1', note: 'Grüße, 東京 🔐' },
      contextId: null,
    });

    expect(outcome).toEqual({ kind: 'sent' });
    expect(service.pushes[0]!.body).toEqual({
      data: { type: 11, payload: '{"userId":"u1","note":"Grüße, 東京 🔐"}', contextId: null },
    });
  });

  it('encrypts each push for its own subscription', async () => {
    const sender = newSender();
    const first = service.subscription();
    const second = service.subscription();

    // Keys of one subscription, endpoint of another: the push service cannot decrypt, as a browser would not.
    const crossed = await sender.send({ ...first, p256dh: second.p256dh, auth: second.auth }, message);
    expect(crossed).toMatchObject({ kind: 'rejected', reason: expect.stringContaining('answered 400') });
    expect(service.refusals).toEqual([
      expect.objectContaining({ status: 400, reason: expect.stringMatching(/^cannot decrypt/) }),
    ]);

    expect(await sender.send(first, message)).toEqual({ kind: 'sent' });
    expect(await sender.send(second, message)).toEqual({ kind: 'sent' });
    expect(service.pushes.map((push) => push.path)).toEqual([
      new URL(first.endpoint).pathname,
      new URL(second.endpoint).pathname,
    ]);
  });

  it('is refused by the push service when the VAPID token is not signed by key k', async () => {
    const target = service.subscription();
    const other = generateVapidKeys();
    const request = generateRequestDetails({ endpoint: target.endpoint, keys: target }, 'x', {
      vapidDetails: { subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
      contentEncoding: 'aes128gcm',
    });
    const { Authorization: authorization, TTL: ttl, 'Content-Encoding': encoding } = request.headers;

    const response = await fetch(target.endpoint, {
      method: 'POST',
      headers: {
        TTL: String(ttl),
        'Content-Encoding': encoding!,
        Authorization: authorization!.replace(/k=[^,]+/, `k=${other.publicKey}`),
      },
      body: request.body,
    });

    expect(response.status).toBe(401);
    expect(service.refusals[0]!.reason).toMatch(/^VAPID JWT refused/);
    expect(service.pushes).toEqual([]);
  });

  it.each([404, 410])('reports a subscription answered %i as gone', async (status) => {
    service.respondWith(status, {}, '{"errno":106,"message":"subscription expired"}');
    const outcome = await newSender().send(service.subscription(), message);

    expect(outcome).toEqual({
      kind: 'gone',
      reason: `${service.origin} answered ${status}: {"errno":106,"message":"subscription expired"}`,
    });
  });

  it('reports an endpoint the push service does not know as gone, without leaking its path', async () => {
    const target = service.subscription('/push/secret-token');
    const outcome = await newSender().send(
      { ...target, endpoint: `${service.origin}/push/unknown-token` },
      message,
    );

    expect(outcome).toMatchObject({ kind: 'gone' });
    expect(JSON.stringify(outcome)).not.toContain('unknown-token');
  });

  it('retries after the time a 429 asks for', async () => {
    service.respondWith(429, { 'retry-after': '7' });
    const outcome = await newSender().send(service.subscription(), message);

    expect(outcome).toEqual({ kind: 'retry', reason: `${service.origin} answered 429`, retryAfterMs: 7000 });
  });

  it.each([
    ['seconds', '999999999'],
    ['an HTTP date', 'Fri, 01 Jan 2100 00:00:00 GMT'],
  ])('waits at most 5 minutes whatever Retry-After asks, in %s', async (_form, retryAfter) => {
    service.respondWith(429, { 'retry-after': retryAfter });
    const outcome = await newSender().send(service.subscription(), message);

    expect(outcome).toEqual({
      kind: 'retry',
      reason: `${service.origin} answered 429`,
      retryAfterMs: 300_000,
    });
  });

  it('reads no more than 4 KiB of an answer and hangs up on the rest', async () => {
    const total = 64 * 1024 * 1024;
    service.respondWithBytes(500, total);
    const outcome = await newSender().send(service.subscription(), message);

    expect(outcome).toEqual({
      kind: 'retry',
      reason: `${service.origin} answered 500: ${'x'.repeat(200)}…`,
    });
    const [answer] = await eventually(() => {
      expect(service.streamed).toHaveLength(1);
      return service.streamed;
    });
    expect(answer).toMatchObject({ total, cutOff: true });
    expect(answer!.written).toBeLessThan(total);
  });

  it('reads a large accepted answer without keeping it', async () => {
    service.respondWithBytes(201, 1024 * 1024);
    expect(await newSender().send(service.subscription(), message)).toEqual({ kind: 'sent' });
  });

  it('gives up on an answer whose body never ends', async () => {
    service.stallBodyNext(201);
    const outcome = await newSender(300).send(service.subscription(), message);

    expect(outcome).toEqual({ kind: 'retry', reason: `${service.origin} request failed: timed out` });
    expect(service.pushes).toHaveLength(1);
  });

  it.each([500, 502, 503])('retries a %i', async (status) => {
    service.respondWith(status);
    const outcome = await newSender().send(service.subscription(), message);

    expect(outcome).toEqual({ kind: 'retry', reason: `${service.origin} answered ${status}` });
  });

  it('retries when the push service does not answer in time', async () => {
    service.stallNext();
    const outcome = await newSender(300).send(service.subscription(), message);

    expect(outcome).toEqual({ kind: 'retry', reason: `${service.origin} request failed: timed out` });
    expect(service.pushes).toHaveLength(1);
  });

  it('retries when the push service is unreachable', async () => {
    const target = service.subscription();
    const port = await refusedPort();
    const outcome = await newSender().send(
      { ...target, endpoint: `http://127.0.0.1:${port}/push/x` },
      message,
    );

    expect(outcome).toEqual({
      kind: 'retry',
      reason: `http://127.0.0.1:${port} request failed: ECONNREFUSED`,
    });
  });

  it.each([400, 401, 403, 413])('rejects a message answered %i', async (status) => {
    service.respondWith(status);
    const outcome = await newSender().send(service.subscription(), message);

    expect(outcome).toEqual({ kind: 'rejected', reason: `${service.origin} answered ${status}` });
  });

  it('rejects a payload too large for Web Push without sending it', async () => {
    const outcome = await newSender().send(service.subscription(), {
      ...message,
      payload: { blob: 'x'.repeat(4000) },
    });

    expect(outcome).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('above the 4096 limit'),
    });
    expect(service.pushes).toEqual([]);
    expect(service.refusals).toEqual([]);
  });

  it.each([
    ['a short p256dh', { p256dh: 'BAAA', auth: undefined }],
    ['a p256dh off the curve', { p256dh: Buffer.alloc(65, 4).toString('base64url'), auth: undefined }],
    ['a short auth secret', { p256dh: undefined, auth: 'AAAA' }],
  ])('reports a subscription with %s as gone without sending it', async (_label, keys) => {
    const target = service.subscription();
    const outcome = await newSender().send(
      { endpoint: target.endpoint, p256dh: keys.p256dh ?? target.p256dh, auth: keys.auth ?? target.auth },
      message,
    );

    expect(outcome).toMatchObject({
      kind: 'gone',
      reason: expect.stringMatching(/^subscription keys are unusable/),
    });
    expect(service.pushes).toEqual([]);
    expect(service.refusals).toEqual([]);
  });

  it('reports a subscription whose endpoint is not an http(s) URL as gone', async () => {
    const target = service.subscription();
    expect(await newSender().send({ ...target, endpoint: 'javascript:alert(1)' }, message)).toMatchObject({
      kind: 'gone',
    });
    expect(await newSender().send({ ...target, endpoint: 'not a url' }, message)).toMatchObject({
      kind: 'gone',
    });
  });
});

describe('WebPushSender and the addresses a push may reach', () => {
  // A name no real DNS knows, resolved by a table the test changes, as a rebinding DNS server would.
  const hostname = 'push.herald.test';
  const dns = new Map<string, string[]>();
  const resolve = (name: string) => {
    const addresses = dns.get(name);
    if (addresses === undefined) return Promise.reject(Object.assign(new Error(name), { code: 'ENOTFOUND' }));
    return Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  let service: FakeWebPushEndpoint;

  beforeEach(async () => {
    service = await FakeWebPushEndpoint.start({ hostname });
    dns.set(hostname, ['127.0.0.1']);
  });

  afterEach(async () => {
    await service.stop();
  });

  /** The subscription at the https URL a push service would have; nothing listens with TLS there. */
  const httpsSubscription = () => {
    const target = service.subscription();
    return { ...target, endpoint: target.endpoint.replace(/^http:/, 'https:') };
  };

  it('connects through its own lookup: an allowed name that only the policy resolves is reached', async () => {
    const sender = newSender(undefined, new WebPushEndpointPolicy([hostname], resolve));

    expect(await sender.send(service.subscription(), message)).toEqual({ kind: 'sent' });
    expect(service.pushes).toHaveLength(1);
  });

  it('refuses a host name that resolves to 127.0.0.1, as gone, without a request', async () => {
    const sender = newSender(undefined, new WebPushEndpointPolicy([], resolve));
    const target = httpsSubscription();

    expect(await sender.send(target, message)).toEqual({
      kind: 'gone',
      reason: `${new URL(target.endpoint).origin} refused: ${hostname} resolves to 127.0.0.1 (loopback)`,
    });
    expect(service.pushes).toEqual([]);
    expect(service.refusals).toEqual([]);
  });

  it('checks the address it connects to: a name that was public when registered and is private now', async () => {
    const policy = new WebPushEndpointPolicy([], resolve);
    const target = httpsSubscription();
    dns.set(hostname, ['8.8.8.8']);
    expect(await policy.refusal(target.endpoint)).toBeUndefined();

    dns.set(hostname, ['10.20.30.40']);
    expect(await newSender(undefined, policy).send(target, message)).toMatchObject({
      kind: 'gone',
      reason: expect.stringMatching(/resolves to 10\.20\.30\.40 \(private\)$/),
    });
  });

  it('refuses a name with a private address among public ones', async () => {
    dns.set(hostname, ['8.8.8.8', '2001:4860:4860::8888', '::ffff:169.254.169.254']);
    const outcome = await newSender(undefined, new WebPushEndpointPolicy([], resolve)).send(
      httpsSubscription(),
      message,
    );

    expect(outcome).toMatchObject({
      kind: 'gone',
      reason: expect.stringMatching(/resolves to ::ffff:169\.254\.169\.254 \(link-local\)$/),
    });
  });

  it.each([
    ['https://127.0.0.1/push/x', '127.0.0.1 (loopback)'],
    ['https://[::1]/push/x', '::1 (unspecified or loopback)'],
    ['https://[::ffff:127.0.0.1]/push/x', '::ffff:7f00:1 (loopback)'],
    ['https://2130706433/push/x', '127.0.0.1 (loopback)'],
    ['https://169.254.169.254/latest/meta-data', '169.254.169.254 (link-local)'],
    ['https://10.0.0.1/push/x', '10.0.0.1 (private)'],
    ['https://[fd00::1]/push/x', 'fd00::1 (unique-local)'],
  ])('refuses the address literal in %s without a request', async (endpoint, refusal) => {
    const target = { ...service.subscription(), endpoint };
    const outcome = await newSender(undefined, new WebPushEndpointPolicy([], resolve)).send(target, message);

    expect(outcome).toEqual({ kind: 'gone', reason: `${new URL(endpoint).origin} refused: ${refusal}` });
  });

  it('refuses plain http unless the host is allowed', async () => {
    const outcome = await newSender(undefined, new WebPushEndpointPolicy([], resolve)).send(
      service.subscription(),
      message,
    );

    expect(outcome).toMatchObject({ kind: 'gone', reason: expect.stringContaining('expected an https URL') });
    expect(service.pushes).toEqual([]);
  });

  it('reaches an address inside an allowed CIDR range', async () => {
    const loopback = await FakeWebPushEndpoint.start();
    try {
      const sender = newSender(undefined, new WebPushEndpointPolicy(['127.0.0.0/8'], resolve));
      expect(await sender.send(loopback.subscription(), message)).toEqual({ kind: 'sent' });
    } finally {
      await loopback.stop();
    }
  });
});

describe('WebPushSender configuration', () => {
  const other = generateVapidKeys();

  it.each([
    ['a missing public key', { vapidPublicKey: '' }, /VAPID public key is missing/],
    [
      'a padded public key',
      { vapidPublicKey: `${vapid.publicKey}=` },
      /VAPID public key must be unpadded base64url/,
    ],
    [
      'a standard-base64 key',
      { vapidPublicKey: vapid.publicKey.replace(/[-_]/g, '+') + 'A/' },
      /unpadded base64url/,
    ],
    [
      'a short public key',
      { vapidPublicKey: vapid.publicKey.slice(0, 40) },
      /VAPID public key must decode to 65 bytes/,
    ],
    [
      'swapped keys',
      { vapidPublicKey: vapid.privateKey, vapidPrivateKey: vapid.publicKey },
      /must decode to 65 bytes, got 32 \(are the public and private keys swapped\?\)/,
    ],
    [
      'a compressed public key',
      { vapidPublicKey: Buffer.concat([Buffer.from([2]), Buffer.alloc(64, 1)]).toString('base64url') },
      /uncompressed P-256 point/,
    ],
    [
      'a zero private key',
      { vapidPrivateKey: Buffer.alloc(32).toString('base64url') },
      /not a valid P-256 private key/,
    ],
    [
      'keys from different pairs',
      { vapidPrivateKey: other.privateKey },
      /does not belong to the VAPID private key/,
    ],
    ['a subject that is no URL', { subject: 'ops@herald.test' }, /mailto: or https: URL/],
    ['an http subject', { subject: 'http://herald.test' }, /mailto: or https: URL/],
    ['a localhost subject', { subject: 'https://localhost' }, /must not point at localhost/],
    ['a zero timeout', { timeoutMs: 0 }, /timeout must be a positive number/],
  ])('refuses %s', (_label, override, error) => {
    const options = {
      vapidPublicKey: vapid.publicKey,
      vapidPrivateKey: vapid.privateKey,
      subject,
      ...override,
    };

    expect(() => new WebPushSender(options)).toThrow(PushProviderConfigError);
    expect(() => new WebPushSender(options)).toThrow(error);
  });

  it('accepts an https subject', () => {
    expect(
      () =>
        new WebPushSender({
          vapidPublicKey: vapid.publicKey,
          vapidPrivateKey: vapid.privateKey,
          subject: 'https://herald.test/contact',
        }),
    ).not.toThrow();
  });
});

describe('generateVapidKeys', () => {
  it('makes unpadded base64url P-256 key pairs the sender accepts', () => {
    const pairs = Array.from({ length: 20 }, () => generateVapidKeys());

    for (const { publicKey, privateKey } of pairs) {
      expect(publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
      expect(privateKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const point = Buffer.from(publicKey, 'base64url');
      expect(point).toHaveLength(65);
      expect(point[0]).toBe(0x04);
      expect(Buffer.from(privateKey, 'base64url')).toHaveLength(32);
      expect(
        () => new WebPushSender({ vapidPublicKey: publicKey, vapidPrivateKey: privateKey, subject }),
      ).not.toThrow();
    }
    expect(new Set(pairs.map((pair) => pair.privateKey)).size).toBe(pairs.length);
  });
});
