import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from 'nats';
import webpush from 'web-push';

import { HeraldPublisher } from '@herald/publisher';
import {
  builtEntryPoint,
  deleteNamespace,
  eventually,
  FakeApns,
  FakeFcm,
  FakeWebPushEndpoint,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
} from '@herald/testing';

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

  const relay = (method: string, path: string, body: unknown, token = relayToken) =>
    fetch(`${worker.url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

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
    };
    // The operator makes an installation for the vault server (SQLite: while the worker is stopped).
    const printed = execFileSync(
      process.execPath,
      [builtEntryPoint('push-worker').replace(/main\.js$/, 'cli/installation.js'), 'create'],
      {
        env: { ...process.env, ...workerEnv },
        encoding: 'utf8',
      },
    );
    installation = {
      id: /installation id:\s+(\S+)/.exec(printed)![1]!,
      key: /installation key:\s+(\S+)/.exec(printed)![1]!,
    };
    [dispatcher, worker] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('push-worker', workerEnv),
    ]);
    publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
    nats = await connect({ servers: TEST_NATS_URL });

    // Identity: client_credentials for the installation, as Bitwarden's push relay client asks.
    const tokenResponse = await fetch(`${worker.url}/connect/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'api.push',
        client_id: `installation.${installation.id}`,
        client_secret: installation.key,
      }),
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
    // The browser extension registers its Web Push subscription itself, with the user's token.
    const subscription = browsers.subscription();
    const extensionToken = await issuer.userToken(userId, {
      device: extensionIdentifier,
      devicetype: 'ChromeExtension',
    });
    const registered = await fetch(`${worker.url}/devices/identifier/${extensionIdentifier}/web-push-auth`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${extensionToken}` },
      body: JSON.stringify(subscription),
    });
    expect(registered.status).toBe(200);
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
    await eventually(() => {
      expect(fcm.received.filter((push) => push.data.type === '0')).toHaveLength(1);
      expect(apns.received).toHaveLength(1);
      expect(browsers.pushes).toHaveLength(1);
    });
    const toAndroid = fcm.received[0]!;
    expect(toAndroid.token).toBe(android.token);
    expect(toAndroid.data.type).toBe('0');
    expect(JSON.parse(toAndroid.data.payload!)).toEqual({
      Id: cipherId,
      UserId: userId,
      RevisionDate: '2026-11-23T10:00:00.000Z',
    });
    const toIphone = apns.received[0]!;
    expect(toIphone.deviceToken).toBe(iphone.token);
    expect(toIphone.headers['apns-topic']).toBe('com.8bit.bitwarden');
    expect(toIphone.body).toEqual({
      aps: { 'content-available': 1 },
      data: {
        type: 0,
        payload: JSON.stringify({ Id: cipherId, UserId: userId, RevisionDate: '2026-11-23T10:00:00.000Z' }),
      },
    });
    expect(browsers.pushes[0]!.body).toEqual({
      data: {
        type: 0,
        payload: JSON.stringify({ Id: cipherId, UserId: userId, RevisionDate: '2026-11-23T10:00:00.000Z' }),
        contextId: actingAndroid.identifier,
      },
    });
    expect(fcm.received.some((push) => push.token === actingAndroid.token)).toBe(false);
  });

  it('pushes an organization event to the organization’s devices only', async () => {
    const before = { fcm: fcm.received.length, apns: apns.received.length, web: browsers.pushes.length };
    await publisher.syncOrganizationStatusChanged({ OrganizationId: organizationId, Enabled: false });
    await eventually(() => {
      expect(fcm.received.slice(before.fcm).map((push) => push.token)).toEqual([android.token]);
      expect(apns.received.slice(before.apns).map((push) => push.deviceToken)).toEqual([iphone.token]);
    });
    expect(browsers.pushes.length).toBe(before.web);
  });

  it('pushes an installation notification to the devices registered by that installation', async () => {
    const before = { fcm: fcm.received.length, apns: apns.received.length };
    await publisher.notification({
      Id: randomUUID(),
      Priority: 0,
      Global: true,
      ClientType: 0,
      InstallationId: installation.id,
      CreationDate: new Date(),
      RevisionDate: new Date(),
    });
    // FCM and APNs sends are independent, so wait for both rather than for one of them.
    await eventually(() => {
      expect(
        fcm.received
          .slice(before.fcm)
          .map((push) => push.token)
          .sort(),
      ).toEqual([android.token, actingAndroid.token].sort());
      // The iPhone was registered without an installation id by a caller that is that installation.
      expect(apns.received.slice(before.apns).map((push) => push.deviceToken)).toEqual([iphone.token]);
    });
  });

  it('pushes login-with-device approvals to the user’s devices', async () => {
    const before = { fcm: fcm.received.length, apns: apns.received.length, web: browsers.pushes.length };
    await publisher.authRequestResponse({ Id: randomUUID(), UserId: userId });
    // Every device of the user, the acting one too (no context): wait for all four sends, so none
    // is still in flight when the next test scripts the fakes' answers.
    await eventually(() => {
      expect(
        fcm.received
          .slice(before.fcm)
          .filter((push) => push.data.type === '16')
          .map((push) => push.token)
          .sort(),
      ).toEqual([android.token, actingAndroid.token].sort());
      expect(apns.received.slice(before.apns).map((push) => push.deviceToken)).toEqual([iphone.token]);
      expect(browsers.pushes.length).toBe(before.web + 1);
    });
  });

  it('retries transient failures, prunes dead registrations and dead-letters rejections, with counts', async () => {
    // FCM: 500, then success. APNs: 429 with Retry-After, then success.
    fcm.respondWith(500, { error: { status: 'INTERNAL' } });
    apns.respondWith(429, 'TooManyRequests', '1');
    const before = { fcm: fcm.received.length, apns: apns.received.length };
    await publisher.syncFolderUpdate({ Id: randomUUID(), UserId: userId, RevisionDate: new Date() });
    await eventually(
      () => {
        // The failed attempt is recorded by the fake too: two requests, the second one answered 200.
        expect(fcm.received.length - before.fcm).toBeGreaterThanOrEqual(3); // android ×2 attempts + acting android
        expect(apns.received.length - before.apns).toBe(2);
      },
      { timeoutMs: 30_000 },
    );
    // Web Push: the browser's push service says the subscription is gone.
    browsers.respondWith(410);
    const webBefore = browsers.pushes.length;
    await publisher.syncSettings({ UserId: userId, Date: new Date() });
    await eventually(async () =>
      expect(await worker.metric('herald_push_sends_total', { provider: 'webpush', outcome: 'gone' })).toBe(
        1,
      ),
    );
    await publisher.syncSettings({ UserId: userId, Date: new Date() });
    await eventually(() =>
      expect(fcm.received.filter((push) => push.data.type === '10').length).toBeGreaterThanOrEqual(4),
    );
    expect(browsers.pushes.length).toBe(webBefore + 1); // the 410 one; nothing after the pruning
    // FCM: a permanent rejection goes to the dead-letter stream with its reason.
    fcm.respondWith(400, {
      error: { status: 'INVALID_ARGUMENT', message: 'Invalid JSON payload received.' },
    });
    await publisher.syncSendCreate({ Id: randomUUID(), UserId: userId, RevisionDate: new Date() });
    const manager = await nats.jetstreamManager();
    const dead = await eventually(() =>
      manager.streams.getMessage(`${namespace}_DEAD`, { last_by_subj: `${namespace}.dead.push-device` }),
    );
    expect(dead.header.get('Herald-Dead-Reason')).toMatch(/INVALID_ARGUMENT|Invalid/);

    const counts = {
      fcmSent: await worker.metric('herald_push_sends_total', { provider: 'fcm', outcome: 'sent' }),
      fcmRetried: await worker.metric('herald_push_sends_total', { provider: 'fcm', outcome: 'retry' }),
      fcmRejected: await worker.metric('herald_push_sends_total', { provider: 'fcm', outcome: 'rejected' }),
      apnsSent: await worker.metric('herald_push_sends_total', { provider: 'apns', outcome: 'sent' }),
      apnsRetried: await worker.metric('herald_push_sends_total', { provider: 'apns', outcome: 'retry' }),
      webpushSent: await worker.metric('herald_push_sends_total', { provider: 'webpush', outcome: 'sent' }),
      webpushPruned: await worker.metric('herald_push_sends_total', { provider: 'webpush', outcome: 'gone' }),
    };
    process.stdout.write(`\n[push faults] ${JSON.stringify(counts)}\n`);
    expect(counts).toMatchObject({ fcmRetried: 1, fcmRejected: 1, apnsRetried: 1, webpushPruned: 1 });
  }, 60_000);

  it('refuses bad relay requests with the field at fault, and wrong credentials with invalid_client', async () => {
    const wrong = await fetch(`${worker.url}/connect/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'api.push',
        client_id: `installation.${installation.id}`,
        client_secret: 'wrong',
      }),
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
    // A relay send from the installation is pushed like an event.
    const before = apns.received.length;
    expect(
      (
        await relay('POST', '/push/send', {
          type: 5,
          payload: { userId, date: new Date().toISOString() },
          userId,
          identifier: android.identifier,
        })
      ).status,
    ).toBe(200);
    await eventually(() => expect(apns.received.length).toBe(before + 1));
    expect(await (await fetch(`${worker.url}/push/config`)).json()).toMatchObject({
      pushTechnology: 1,
      vapidPublicKey: expect.stringMatching(/^[A-Za-z0-9_-]{87}$/),
    });
    expect(await (await fetch(`${worker.url}/health/ready`)).json()).toMatchObject({
      status: 'ok',
      checks: { nats: true, database: true },
    });
  });
});
