import { execFileSync } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from 'nats';
import webpush from 'web-push';

import { devicePushJobCodec } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  deleteNamespace,
  eventually,
  FakeApns,
  FakeFcm,
  type FakeSubscription,
  FakeWebPushEndpoint,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
  WORKSPACE_ROOT,
} from '@herald/testing';

type Payload = Record<string, unknown>;

/** The `payload` JSON string a push carries, parsed. */
function parsePayload(text: unknown): Payload {
  return typeof text === 'string' ? (JSON.parse(text) as Payload) : {};
}

/** APNs and Web Push bodies carry `{data: {type, payload}}`. */
const payloadOf = (body: unknown): Payload =>
  parsePayload((body as { data?: { payload?: unknown } } | null)?.data?.payload);

const withId = (id: string) => (payload: Payload) => payload.Id === id;

/** A date no other push of this file carries, as the payloads show it. */
const uniqueDate = () => new Date(Date.UTC(2030, 0, 1) + randomInt(2 ** 40)).toISOString();

/**
 * From an event on NATS to the bytes each provider receives: FCM v1, APNs and Web Push fakes that
 * speak the real protocols and check what they get, devices registered through the
 * relay-compatible API (as Vaultwarden and Bitwarden self-hosted send them) and through the
 * user's own endpoints, with the device that caused the change left out.
 */
describe('push delivery', () => {
  const namespace = testNamespace('push');
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-push-'));
  const userId = randomUUID();
  const organizationId = randomUUID();
  let issuer: TestIssuer;
  let fcm: FakeFcm;
  let apns: FakeApns;
  let browsers: FakeWebPushEndpoint;
  let dispatcher: ServiceProcess;
  let worker: ServiceProcess;
  let publisher: HeraldPublisher;
  let nats: NatsConnection;
  let installation: { id: string; key: string };
  let relayToken: string;

  const android = { deviceId: randomUUID(), identifier: randomUUID(), token: `fcm-${randomUUID()}` };
  const actingAndroid = { deviceId: randomUUID(), identifier: randomUUID(), token: `fcm-${randomUUID()}` };
  const iphone = {
    deviceId: randomUUID(),
    identifier: randomUUID(),
    token: randomUUID().replace(/-/g, '').repeat(2),
  };
  const extensionIdentifier = randomUUID();
  let extensionSubscription: FakeSubscription;

  const relay = (method: string, path: string, body: unknown, token = relayToken) =>
    fetch(`${worker.url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  const tokenForm = (secret: string) =>
    new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'api.push',
      client_id: `installation.${installation.id}`,
      client_secret: secret,
    });

  /** `POST /connect/token` from a chosen loopback source address (the limiter counts per address). */
  const tokenRequestFrom = (localAddress: string, secret: string) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const form = tokenForm(secret).toString();
      const request = httpRequest(
        `${worker.url}/connect/token`,
        {
          method: 'POST',
          localAddress,
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            'Content-Length': Buffer.byteLength(form),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode!,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
            }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(form);
    });

  /** The browser extension registers its Web Push subscription itself, with the user's token. */
  const subscribeExtension = async () => {
    const extensionToken = await issuer.userToken(userId, {
      device: extensionIdentifier,
      devicetype: 'ChromeExtension',
    });
    const registered = await fetch(`${worker.url}/devices/identifier/${extensionIdentifier}/web-push-auth`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${extensionToken}` },
      body: JSON.stringify(extensionSubscription),
    });
    expect(registered.status).toBe(200);
  };

  /** Every push each device got whose payload matches, found by content (never by position). */
  const pushesTo = (matches: (payload: Payload) => boolean) => {
    const extensionPath = new URL(extensionSubscription.endpoint).pathname;
    return {
      android: fcm.received.filter(
        (push) => push.token === android.token && matches(parsePayload(push.data.payload)),
      ),
      actingAndroid: fcm.received.filter(
        (push) => push.token === actingAndroid.token && matches(parsePayload(push.data.payload)),
      ),
      iphone: apns.received.filter(
        (push) => push.deviceToken === iphone.token && matches(payloadOf(push.body)),
      ),
      extension: browsers.pushes.filter(
        (push) => push.path === extensionPath && matches(payloadOf(push.body)),
      ),
    };
  };
  const countsOf = (pushes: ReturnType<typeof pushesTo>) =>
    Object.fromEntries(Object.entries(pushes).map(([device, received]) => [device, received.length]));

  /**
   * The negative checks' marker: a later event that every device of the user gets, with no acting
   * device. A push an earlier event should not have caused would have been queued on the push stream
   * before the marker's, which the worker takes in order; once the marker reached every device,
   * such a push has had its turn, and the test looks for it by content.
   */
  const sendMarker = async () => {
    const markerId = randomUUID();
    await publisher.syncCipherUpdate({ Id: markerId, UserId: userId, RevisionDate: new Date() });
    await eventually(() =>
      expect(countsOf(pushesTo(withId(markerId)))).toEqual({
        android: 1,
        actingAndroid: 1,
        iphone: 1,
        extension: 1,
      }),
    );
  };

  /**
   * `herald_push_sends_total` by `provider/outcome`, read from `/metrics`. The family must be there
   * (a renamed metric fails the test); an outcome that has not happened yet counts 0.
   */
  const sendCounts = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    expect(text).toContain('# TYPE herald_push_sends_total counter');
    const counts: Record<string, number> = {};
    for (const match of text.matchAll(/^herald_push_sends_total\{([^}]*)\} (\S+)$/gm)) {
      const labels = Object.fromEntries(
        [...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]),
      );
      counts[`${labels.provider}/${labels.outcome}`] = Number(match[2]);
    }
    return counts;
  };
  const difference = (after: Record<string, number>, before: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(after)
        .map(([key, value]) => [key, value - (before[key] ?? 0)] as const)
        .filter(([, value]) => value !== 0),
    );

  beforeAll(async () => {
    issuer = await TestIssuer.create();
    [fcm, apns, browsers] = await Promise.all([
      FakeFcm.start(),
      FakeApns.start({ topic: 'com.8bit.bitwarden' }),
      FakeWebPushEndpoint.start(),
    ]);
    const vapid = webpush.generateVAPIDKeys();
    const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
    const workerEnv = {
      ...env,
      HERALD_DATA_DIR: dataDir,
      HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
      HERALD_FCM_SERVICE_ACCOUNT: fcm.fakeServiceAccount('bitwarden-test'),
      HERALD_FCM_API_URL: fcm.apiUrl,
      HERALD_FCM_TOKEN_URL: fcm.tokenUrl,
      HERALD_APNS_KEY: apns.key.pem,
      HERALD_APNS_KEY_ID: apns.key.keyId,
      HERALD_APNS_TEAM_ID: apns.key.teamId,
      HERALD_APNS_TOPIC: 'com.8bit.bitwarden',
      HERALD_APNS_HOST: apns.url,
      HERALD_VAPID_PUBLIC_KEY: vapid.publicKey,
      HERALD_VAPID_PRIVATE_KEY: vapid.privateKey,
      HERALD_VAPID_SUBJECT: 'mailto:ops@vault.example',
      // The fake browsers' push service listens on loopback, which only the operator can allow.
      HERALD_WEBPUSH_ALLOWED_HOSTS: '127.0.0.1',
    };
    // The operator makes an installation for the vault server (SQLite: while the worker is stopped).
    const printed = execFileSync(
      process.execPath,
      [join(WORKSPACE_ROOT, 'dist', 'cli', 'apps', 'cli', 'src', 'main.js'), 'installation', 'create'],
      {
        env: { ...process.env, ...workerEnv },
        encoding: 'utf8',
      },
    );
    installation = {
      id: /installation id:\s+(\S+)/.exec(printed)![1]!,
      key: /installation key:\s+(\S+)/.exec(printed)![1]!,
    };
    // The vault server whose events Herald carries is that installation: its relay registrations
    // are the vault's own, and vault events reach them as well as the users' own.
    [dispatcher, worker] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('push-worker', { ...workerEnv, HERALD_INSTALLATION_ID: installation.id }),
    ]);
    publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
    nats = await connect({ servers: TEST_NATS_URL });

    // Identity: client_credentials for the installation, as Bitwarden's push relay client asks.
    const tokenResponse = await fetch(`${worker.url}/connect/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: tokenForm(installation.key),
    });
    expect(tokenResponse.status).toBe(200);
    const granted = (await tokenResponse.json()) as {
      access_token: string;
      expires_in: number;
      token_type: string;
    };
    expect(granted).toMatchObject({ expires_in: 86400, token_type: 'Bearer' });
    relayToken = granted.access_token;

    // Vaultwarden's shape (camelCase) for the Android devices, Bitwarden's for the iPhone.
    for (const device of [android, actingAndroid]) {
      const response = await relay('POST', '/push/register', {
        deviceId: device.deviceId,
        pushToken: device.token,
        userId,
        type: 0,
        identifier: device.identifier,
        installationId: installation.id,
      });
      expect(response.status).toBe(200);
    }
    expect(
      (
        await relay('POST', '/push/register', {
          DeviceId: iphone.deviceId,
          PushToken: iphone.token,
          UserId: userId.toUpperCase(),
          Type: 1,
          Identifier: iphone.identifier,
          OrganizationIds: [organizationId],
        })
      ).status,
    ).toBe(200);
    expect(
      (await relay('PUT', '/push/add-organization', { devices: [{ id: android.deviceId }], organizationId }))
        .status,
    ).toBe(200);
    extensionSubscription = browsers.subscription();
    await subscribeExtension();
  }, 60_000);

  afterAll(async () => {
    await publisher?.close();
    await nats?.close();
    const codes = await Promise.all([worker?.stop(), dispatcher?.stop()]);
    await Promise.all([fcm?.stop(), apns?.stop(), browsers?.stop()]);
    await deleteNamespace(namespace);
    rmSync(dataDir, { recursive: true, force: true });
    expect(codes).toEqual([0, 0]);
  });

  it('pushes a user event to every provider with the exact payloads, leaving out the acting device', async () => {
    const cipherId = randomUUID();
    await publisher.syncCipherUpdate(
      { Id: cipherId, UserId: userId, RevisionDate: new Date('2026-11-23T10:00:00Z') },
      { contextId: actingAndroid.identifier },
    );
    const landed = await eventually(() => {
      const got = pushesTo(withId(cipherId));
      expect(countsOf(got)).toMatchObject({ android: 1, iphone: 1, extension: 1 });
      return got;
    });
    const payload = JSON.stringify({
      Id: cipherId,
      UserId: userId,
      RevisionDate: '2026-11-23T10:00:00.000Z',
    });
    expect(landed.android[0]!.data).toMatchObject({ type: '0', payload });
    expect(landed.iphone[0]!.headers['apns-topic']).toBe('com.8bit.bitwarden');
    expect(landed.iphone[0]!.body).toEqual({ aps: { 'content-available': 1 }, data: { type: 0, payload } });
    expect(landed.extension[0]!.body).toEqual({
      data: { type: 0, payload, contextId: actingAndroid.identifier },
    });
    // The acting device gets a later event, and only that: its push of this one was never sent.
    await sendMarker();
    expect(countsOf(pushesTo(withId(cipherId)))).toEqual({
      android: 1,
      actingAndroid: 0,
      iphone: 1,
      extension: 1,
    });
  }, 30_000);

  it('pushes an organization event to the organization’s devices only', async () => {
    const enabled = randomInt(2) === 1;
    await publisher.syncOrganizationStatusChanged({ OrganizationId: organizationId, Enabled: enabled });
    const isThisEvent = (payload: Payload) =>
      payload.OrganizationId === organizationId && payload.Enabled === enabled;
    await eventually(() => expect(countsOf(pushesTo(isThisEvent))).toMatchObject({ android: 1, iphone: 1 }));
    // The user's other Android phone and the browser extension are not in the organization.
    await sendMarker();
    expect(countsOf(pushesTo(isThisEvent))).toEqual({
      android: 1,
      actingAndroid: 0,
      iphone: 1,
      extension: 0,
    });
  }, 30_000);

  it('pushes an installation notification to the devices registered by that installation', async () => {
    const notificationId = randomUUID();
    await publisher.notification({
      Id: notificationId,
      Priority: 0,
      Global: true,
      ClientType: 0,
      InstallationId: installation.id,
      CreationDate: new Date(),
      RevisionDate: new Date(),
    });
    // The iPhone was registered without an installation id by a caller that is that installation.
    await eventually(() =>
      expect(countsOf(pushesTo(withId(notificationId)))).toMatchObject({
        android: 1,
        actingAndroid: 1,
        iphone: 1,
      }),
    );
    // The extension registered itself, with the user's token: not a device of the installation.
    await sendMarker();
    expect(countsOf(pushesTo(withId(notificationId)))).toEqual({
      android: 1,
      actingAndroid: 1,
      iphone: 1,
      extension: 0,
    });
  }, 30_000);

  it('pushes login-with-device approvals to the user’s devices', async () => {
    const requestId = randomUUID();
    await publisher.authRequestResponse({ Id: requestId, UserId: userId });
    // Every device of the user, the acting one too (no context).
    await eventually(() =>
      expect(countsOf(pushesTo(withId(requestId)))).toEqual({
        android: 1,
        actingAndroid: 1,
        iphone: 1,
        extension: 1,
      }),
    );
    expect(pushesTo(withId(requestId)).android[0]!.data.type).toBe('16');
  }, 30_000);

  it('retries transient failures, prunes dead registrations and dead-letters rejections, with counts', async () => {
    const before = await sendCounts();
    // FCM: 500, then success. APNs: 429 with Retry-After, then success.
    fcm.respondWith(500, { error: { status: 'INTERNAL' } });
    apns.respondWith(429, 'TooManyRequests', '1');
    const retriedId = randomUUID();
    await publisher.syncFolderUpdate({ Id: retriedId, UserId: userId, RevisionDate: new Date() });
    await eventually(
      () => {
        // The fakes record failed attempts too: one Android phone twice (500, then 200), the iPhone twice.
        const got = pushesTo(withId(retriedId));
        expect(got.android.length + got.actingAndroid.length).toBe(3);
        expect(got.iphone).toHaveLength(2);
        expect(got.extension).toHaveLength(1);
      },
      { timeoutMs: 30_000 },
    );

    // Web Push: the browser's push service says the subscription is gone.
    browsers.respondWith(410);
    const logsBefore = worker.logs.length;
    const goneId = randomUUID();
    await publisher.syncFolderUpdate({ Id: goneId, UserId: userId, RevisionDate: new Date() });
    await eventually(() => {
      const got = pushesTo(withId(goneId));
      expect(got.extension.map((push) => push.status)).toEqual([410]);
      expect(countsOf(got)).toMatchObject({ android: 1, actingAndroid: 1, iphone: 1 });
    });
    // The answer is counted before the registration is removed: wait for the removal itself.
    await eventually(() =>
      expect(
        worker.logs
          .slice(logsBefore)
          .filter((line) => line.msg === 'removed a dead push registration' && line.provider === 'webpush'),
      ).toHaveLength(1),
    );
    const afterId = randomUUID();
    await publisher.syncFolderUpdate({ Id: afterId, UserId: userId, RevisionDate: new Date() });
    // One resolution queues every device's push, so once the phones have theirs the event is resolved.
    await eventually(() =>
      expect(countsOf(pushesTo(withId(afterId)))).toMatchObject({ android: 1, actingAndroid: 1, iphone: 1 }),
    );
    // The marker for the pruned subscription: the extension subscribes again (same endpoint) and a
    // later event reaches it; the event sent while it was pruned never did.
    await subscribeExtension();
    await sendMarker();
    expect(countsOf(pushesTo(withId(afterId)))).toEqual({
      android: 1,
      actingAndroid: 1,
      iphone: 1,
      extension: 0,
    });

    // FCM: a permanent rejection goes to the dead-letter stream with its reason.
    fcm.respondWith(400, {
      error: { status: 'INVALID_ARGUMENT', message: 'Invalid JSON payload received.' },
    });
    const rejectedId = randomUUID();
    await publisher.syncSendCreate({ Id: rejectedId, UserId: userId, RevisionDate: new Date() });
    await eventually(() =>
      expect(countsOf(pushesTo(withId(rejectedId)))).toEqual({
        android: 1,
        actingAndroid: 1,
        iphone: 1,
        extension: 1,
      }),
    );
    const manager = await nats.jetstreamManager();
    const dead = await eventually(async () => {
      const message = await manager.streams.getMessage(`${namespace}_DEAD`, {
        last_by_subj: `${namespace}.dead.push-device`,
      });
      expect(devicePushJobCodec.decode(message.data).payload.Id).toBe(rejectedId);
      return message;
    });
    expect(dead.header.get('Herald-Dead-Reason')).toMatch(/INVALID_ARGUMENT|Invalid/);

    // Counted by outcome, as differences: other tests of this file push too, in any order.
    await eventually(async () => {
      const counts = difference(await sendCounts(), before);
      process.stdout.write(`\n[push faults] ${JSON.stringify(counts)}\n`);
      expect(counts).toEqual({
        // retried: 2 (one 500 among them), goneId: 2, afterId: 2, marker: 2, rejectedId: 1 (the other 400)
        'fcm/sent': 9,
        'fcm/retry': 1,
        'fcm/rejected': 1,
        // retried: 1 after the 429, goneId, afterId, marker, rejectedId
        'apns/sent': 5,
        'apns/retry': 1,
        // retried, marker, rejectedId; goneId answered 410; afterId never sent
        'webpush/sent': 3,
        'webpush/gone': 1,
      });
    });
  }, 60_000);

  it('refuses bad relay requests with the field at fault, and wrong credentials with invalid_client', async () => {
    const wrong = await fetch(`${worker.url}/connect/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: tokenForm('wrong'),
    });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    const bad = await relay('POST', '/push/register', {
      deviceId: 'nope',
      pushToken: 'x',
      userId,
      type: 0,
      identifier: 'i',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'deviceId' });
    expect(
      (
        await relay('POST', '/push/send', {
          type: 5,
          payload: { userId, date: new Date().toISOString() },
          installationId: randomUUID(),
        })
      ).status,
    ).toBe(403);
    expect((await relay('POST', '/push/send', { type: 5, payload: {} })).status).toBe(400);
    expect((await relay('POST', '/push/delete', { id: android.deviceId }, 'not-a-token')).status).toBe(401);
    expect(await (await fetch(`${worker.url}/push/config`)).json()).toMatchObject({
      pushTechnology: 1,
      vapidPublicKey: expect.stringMatching(/^[A-Za-z0-9_-]{87}$/),
    });
    expect(await (await fetch(`${worker.url}/health/ready`)).json()).toMatchObject({
      status: 'ok',
      checks: { nats: true, database: true },
    });
  }, 30_000);

  it('refuses a Web Push subscription whose endpoint leads into the network, naming why', async () => {
    const identifier = randomUUID();
    const token = await issuer.userToken(userId, { device: identifier, devicetype: 'ChromeExtension' });
    const refusals: { status: number; body: unknown }[] = [];
    // The allow-list names the fake push service's address, 127.0.0.1, and nothing else.
    for (const endpoint of [
      'https://127.0.0.2/push/x',
      'https://10.0.0.1/push/x',
      'http://[::1]:8080/push/x',
    ]) {
      const response = await fetch(`${worker.url}/devices/identifier/${identifier}/web-push-auth`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify({ ...extensionSubscription, endpoint }),
      });
      refusals.push({ status: response.status, body: await response.json() });
    }
    expect(refusals).toEqual(
      [
        'endpoint: 127.0.0.2 (loopback)',
        'endpoint: 10.0.0.1 (private)',
        'endpoint: expected an https URL (plain http only for HERALD_WEBPUSH_ALLOWED_HOSTS)',
      ].map((message) => ({ status: 400, body: expect.objectContaining({ field: 'endpoint', message }) })),
    );
  }, 30_000);

  it('pushes a relay send to the installation’s devices, leaving out the one it names', async () => {
    const date = uniqueDate();
    expect(
      (
        await relay('POST', '/push/send', {
          type: 5,
          payload: { userId, date },
          userId,
          identifier: android.identifier,
        })
      ).status,
    ).toBe(200);
    const isThisSend = (payload: Payload) => payload.UserId === userId && payload.Date === date;
    await eventually(() =>
      expect(countsOf(pushesTo(isThisSend))).toMatchObject({ actingAndroid: 1, iphone: 1 }),
    );
    // The named device gets a later event, and only that; so does the extension, which the user
    // registered with its own token: the users' own registrations are no installation's to push to.
    await sendMarker();
    expect(countsOf(pushesTo(isThisSend))).toEqual({ android: 0, actingAndroid: 1, iphone: 1, extension: 0 });
  }, 30_000);

  it('limits repeated wrong installation keys from one address, and only from that address', async () => {
    // An address of its own on loopback, so the limit touches no other test of this file.
    const address = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    for (let attempt = 1; attempt <= 10; attempt += 1) {
      expect(await tokenRequestFrom(address, 'wrong')).toMatchObject({
        status: 400,
        body: { error: 'invalid_client' },
      });
    }
    // The eleventh try within the minute is refused before the key is checked, even the right key.
    expect(await tokenRequestFrom(address, 'wrong')).toMatchObject({
      status: 429,
      body: { error: 'too_many_requests' },
    });
    expect(await tokenRequestFrom(address, installation.key)).toMatchObject({ status: 429 });
    // Another address with the right key is not affected.
    expect(await tokenRequestFrom('127.0.0.1', installation.key)).toMatchObject({
      status: 200,
      body: { token_type: 'Bearer' },
    });
  }, 30_000);
});
