import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { HeraldPublisher } from '@herald/publisher';
import {
  createTestDatabase,
  deleteNamespace,
  eventually,
  FakeFcm,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
  WORKSPACE_ROOT,
} from '@herald/testing';

interface Installation {
  id: string;
  key: string;
  token: string;
}

type Phone = 'a' | 'b' | 'bSecond' | 'own';

/**
 * Two vault servers use one push worker (on PostgreSQL) as their relay: installation A, which is
 * also the vault whose events Herald carries (HERALD_INSTALLATION_ID), and installation B, a
 * stranger to it. Both name the same user, organization, device id and identifier; the user also
 * registers a phone with its own token. Every relay route of B is tried against A's registrations
 * (and A's against B's): none reaches across.
 */
describe('push relay installations are kept apart', () => {
  const namespace = testNamespace('pushiso');
  const cleanups: (() => Promise<unknown>)[] = [];
  const userId = randomUUID();
  const organizationId = randomUUID();
  /** The device id and identifier A and B both register (B after A, with its own token). */
  const deviceId = randomUUID();
  const identifier = randomUUID();
  const tokens: Record<Phone, string> = {
    a: `fcm-a-${randomUUID()}`,
    b: `fcm-b-${randomUUID()}`,
    bSecond: `fcm-b2-${randomUUID()}`,
    own: `fcm-own-${randomUUID()}`,
  };
  let databaseUrl: string;
  let issuer: TestIssuer;
  let fcm: FakeFcm;
  let worker: ServiceProcess;
  let publisher: HeraldPublisher;
  let a: Installation;
  let b: Installation;

  /** The `herald` command against the worker's database (PostgreSQL: while the worker runs). */
  const herald = async (...args: string[]): Promise<string> =>
    // Asynchronous: a blocked event loop would leave pooled keep-alive sockets to the worker
    // unread while it closes them, and the next request would meet a closed socket.
    (
      await promisify(execFile)(
        process.execPath,
        [join(WORKSPACE_ROOT, 'dist', 'cli', 'apps', 'cli', 'src', 'main.js'), ...args],
        { env: { ...process.env, HERALD_DATABASE_URL: databaseUrl }, encoding: 'utf8' },
      )
    ).stdout;

  const requestToken = (installation: { id: string }, secret: string, forwardedFor?: string) =>
    fetch(`${worker.url}/connect/token`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        ...(forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {}),
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'api.push',
        client_id: `installation.${installation.id}`,
        client_secret: secret,
      }),
    });

  const relay = (caller: Installation, method: string, path: string, body: unknown) =>
    fetch(`${worker.url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${caller.token}` },
      body: JSON.stringify(body),
    });

  /** A `/push/send` of `caller` to `target`, answered 200; its cipher id tells its pushes apart. */
  const send = async (caller: Installation, target: Record<string, string>): Promise<string> => {
    const id = randomUUID();
    const response = await relay(caller, 'POST', '/push/send', {
      type: 0,
      payload: { id, userId, revisionDate: new Date().toISOString() },
      ...target,
    });
    expect(response.status).toBe(200);
    return id;
  };

  /** How many pushes carrying cipher `id` each phone got. */
  const received = (id: string): Record<Phone, number> => {
    const count = (token: string) =>
      fcm.received.filter(
        (push) =>
          push.token === token && (JSON.parse(push.data.payload ?? '{}') as { Id?: string }).Id === id,
      ).length;
    return { a: count(tokens.a), b: count(tokens.b), bSecond: count(tokens.bSecond), own: count(tokens.own) };
  };

  /**
   * The negative checks' marker: a vault event for the user (reaching A's phone and the user's own)
   * and a send of B to the user (reaching B's phones still registered), after the pushes under test
   * were queued. A push those should not have caused was queued before the markers, which the worker
   * takes in order: once every marker landed, it had its turn.
   */
  const sendMarkers = async (bPhones: Phone[] = ['b', 'bSecond']) => {
    const vaultMarker = randomUUID();
    await publisher.syncCipherUpdate({ Id: vaultMarker, UserId: userId, RevisionDate: new Date() });
    const bMarker = await send(b, { userId });
    await eventually(() => {
      expect(received(vaultMarker)).toEqual({ a: 1, b: 0, bSecond: 0, own: 1 });
      expect(received(bMarker)).toEqual({
        a: 0,
        b: bPhones.includes('b') ? 1 : 0,
        bSecond: bPhones.includes('bSecond') ? 1 : 0,
        own: 0,
      });
    });
  };

  const registration = (pushToken: string, id = deviceId, organizationIds = [organizationId]) => ({
    deviceId: id,
    pushToken,
    userId,
    type: 0,
    identifier: id === deviceId ? identifier : randomUUID(),
    organizationIds,
  });

  beforeAll(async () => {
    const database = await createTestDatabase();
    databaseUrl = database.url;
    cleanups.push(() => database.drop());
    issuer = await TestIssuer.create();
    fcm = await FakeFcm.start();
    cleanups.push(
      () => fcm.stop(),
      () => deleteNamespace(namespace),
    );
    const created = [await herald('installation', 'create'), await herald('installation', 'create')].map(
      (printed) => ({
        id: /installation id:\s+(\S+)/.exec(printed)![1]!,
        key: /installation key:\s+(\S+)/.exec(printed)![1]!,
      }),
    );
    const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
    const [dispatcher, started] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('push-worker', {
        ...env,
        HERALD_DATABASE_URL: databaseUrl,
        HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
        HERALD_FCM_SERVICE_ACCOUNT: fcm.fakeServiceAccount(),
        HERALD_FCM_API_URL: fcm.apiUrl,
        HERALD_FCM_TOKEN_URL: fcm.tokenUrl,
        // A is the vault's own installation; B is another vault server's.
        HERALD_INSTALLATION_ID: created[0]!.id,
        HERALD_TRUSTED_PROXIES: '127.0.0.1',
        HERALD_PUSH_MAX_DEVICES_PER_USER: '2',
      }),
    ]);
    worker = started;
    publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
    cleanups.push(
      () => publisher.close(),
      async () => expect(await Promise.all([worker.stop(), dispatcher.stop()])).toEqual([0, 0]),
    );
    const withTokens = await Promise.all(
      created.map(async (installation) => {
        const response = await requestToken(installation, installation.key);
        expect(response.status).toBe(200);
        return { ...installation, token: ((await response.json()) as { access_token: string }).access_token };
      }),
    );
    [a, b] = withTokens as [Installation, Installation];

    // A registers its phone; then B registers A's device id, user and identifier with its own token.
    expect((await relay(a, 'POST', '/push/register', registration(tokens.a))).status).toBe(200);
    expect((await relay(b, 'POST', '/push/register', registration(tokens.b))).status).toBe(200);
    expect(
      (await relay(b, 'POST', '/push/register', registration(tokens.bSecond, randomUUID(), []))).status,
    ).toBe(200);
    // The user registers its own phone, under the same identifier, with the vault's token.
    const ownToken = await issuer.userToken(userId, { device: identifier, devicetype: 'Android' });
    const own = await fetch(`${worker.url}/devices/identifier/${identifier}/token`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ownToken}` },
      body: JSON.stringify({ pushToken: tokens.own }),
    });
    expect(own.status).toBe(200);
  }, 90_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }, 60_000);

  it('register: the same device id from two installations is two registrations; a send by user stays home', async () => {
    const fromA = await send(a, { userId });
    const fromB = await send(b, { userId });
    await eventually(() => {
      expect(received(fromA)).toMatchObject({ a: 1 });
      expect(received(fromB)).toMatchObject({ b: 1, bSecond: 1 });
    });
    await sendMarkers();
    // A's pushes still go to A's token, B's to B's; neither reaches the user's own phone.
    expect(received(fromA)).toEqual({ a: 1, b: 0, bSecond: 0, own: 0 });
    expect(received(fromB)).toEqual({ a: 0, b: 1, bSecond: 1, own: 0 });
  });

  it('send by organization and by installation reach the caller’s registrations only', async () => {
    const organizationFromB = await send(b, { organizationId });
    const organizationFromA = await send(a, { organizationId });
    const installationFromB = await send(b, { installationId: b.id });
    await eventually(() => {
      expect(received(organizationFromB)).toMatchObject({ b: 1 });
      expect(received(organizationFromA)).toMatchObject({ a: 1 });
      expect(received(installationFromB)).toMatchObject({ b: 1, bSecond: 1 });
    });
    await sendMarkers();
    expect(received(organizationFromB)).toEqual({ a: 0, b: 1, bSecond: 0, own: 0 });
    expect(received(organizationFromA)).toEqual({ a: 1, b: 0, bSecond: 0, own: 0 });
    expect(received(installationFromB)).toEqual({ a: 0, b: 1, bSecond: 1, own: 0 });
    // Another installation's id is refused outright.
    const foreign = await relay(b, 'POST', '/push/send', {
      type: 0,
      payload: { id: randomUUID(), userId, revisionDate: new Date().toISOString() },
      installationId: a.id,
    });
    expect(foreign.status).toBe(403);
  });

  it('add-organization and delete-organization change the caller’s devices only', async () => {
    const joined = randomUUID();
    const devices = [{ id: deviceId }];
    // B puts "its" device into an organization and takes it out of the one A's device is in.
    expect(
      (await relay(b, 'PUT', '/push/add-organization', { devices, organizationId: joined })).status,
    ).toBe(200);
    expect((await relay(b, 'PUT', '/push/delete-organization', { devices, organizationId })).status).toBe(
      200,
    );

    const joinedFromA = await send(a, { organizationId: joined });
    const joinedFromB = await send(b, { organizationId: joined });
    const leftFromA = await send(a, { organizationId });
    const leftFromB = await send(b, { organizationId });
    await eventually(() => {
      expect(received(joinedFromB)).toMatchObject({ b: 1 });
      expect(received(leftFromA)).toMatchObject({ a: 1 });
    });
    await sendMarkers();
    expect(received(joinedFromA)).toEqual({ a: 0, b: 0, bSecond: 0, own: 0 });
    expect(received(joinedFromB)).toEqual({ a: 0, b: 1, bSecond: 0, own: 0 });
    expect(received(leftFromA)).toEqual({ a: 1, b: 0, bSecond: 0, own: 0 });
    expect(received(leftFromB)).toEqual({ a: 0, b: 0, bSecond: 0, own: 0 });
    // A's own organization changes reach A's device.
    expect(
      (await relay(a, 'PUT', '/push/add-organization', { devices, organizationId: joined })).status,
    ).toBe(200);
    const joinedByA = await send(a, { organizationId: joined });
    await eventually(() => expect(received(joinedByA)).toMatchObject({ a: 1 }));
  });

  it('vault events reach the users’ own registrations and the vault’s installation, never another', async () => {
    const cipherId = randomUUID();
    await publisher.syncCipherUpdate({ Id: cipherId, UserId: userId, RevisionDate: new Date() });
    await eventually(() => expect(received(cipherId)).toMatchObject({ a: 1, own: 1 }));
    await sendMarkers();
    expect(received(cipherId)).toEqual({ a: 1, b: 0, bSecond: 0, own: 1 });
  });

  it('disabling an installation refuses its tokens at once; enabling takes them back', async () => {
    const sendAs = (caller: Installation) =>
      relay(caller, 'POST', '/push/send', {
        type: 0,
        payload: { id: randomUUID(), userId, revisionDate: new Date().toISOString() },
        userId,
      });
    expect((await sendAs(b)).status).toBe(200);

    expect(await herald('installation', 'disable', b.id)).toContain('disabled');
    expect((await sendAs(b)).status).toBe(401);
    expect((await relay(b, 'POST', '/push/register', registration(tokens.b))).status).toBe(401);
    expect((await requestToken(b, b.key)).status).toBe(400);
    expect((await sendAs(a)).status).toBe(200);

    expect(await herald('installation', 'enable', b.id)).toContain('enabled');
    expect((await sendAs(b)).status).toBe(200);
  });

  it('delete removes the caller’s registration only', async () => {
    expect((await relay(b, 'POST', '/push/delete', { id: deviceId })).status).toBe(200);

    const fromA = await send(a, { userId });
    const fromB = await send(b, { userId });
    await eventually(() => {
      expect(received(fromA)).toMatchObject({ a: 1 });
      expect(received(fromB)).toMatchObject({ bSecond: 1 });
    });
    // B's deleted phone can get no marker: B's second phone, reached by the same resolution, is it.
    await sendMarkers(['bSecond']);
    expect(received(fromA)).toEqual({ a: 1, b: 0, bSecond: 0, own: 0 });
    expect(received(fromB)).toEqual({ a: 0, b: 0, bSecond: 1, own: 0 });
  });

  it('caps the devices a user registers with its own token (HERALD_PUSH_MAX_DEVICES_PER_USER)', async () => {
    const someone = randomUUID();
    const register = async (deviceIdentifier: string) => {
      const token = await issuer.userToken(someone, { device: deviceIdentifier, devicetype: 'Android' });
      return fetch(`${worker.url}/devices/identifier/${deviceIdentifier}/token`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify({ pushToken: `fcm-${randomUUID()}` }),
      });
    };
    const [first, second, third] = [randomUUID(), randomUUID(), randomUUID()];
    expect((await register(first)).status).toBe(200);
    expect((await register(second)).status).toBe(200);

    const refused = await register(third);
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: 'too_many_devices' });
    // A device already registered renews its token; relay installations count apart.
    expect((await register(first)).status).toBe(200);
    expect(
      (await relay(a, 'POST', '/push/register', { ...registration(tokens.a, randomUUID()), userId: someone }))
        .status,
    ).toBe(200);
  });

  it('limits /connect/token failures per client behind the trusted proxy and per installation', async () => {
    const guesser = '203.0.113.7, 127.0.0.1';
    for (let attempt = 1; attempt <= 10; attempt += 1) {
      expect((await requestToken(a, 'wrong', guesser)).status).toBe(400);
    }
    expect((await requestToken(a, a.key, guesser)).status).toBe(429);
    // Another client of the same proxy, and the guesser asking for another installation, are not blocked.
    expect((await requestToken(a, a.key, '198.51.100.7')).status).toBe(200);
    expect((await requestToken(b, b.key, guesser)).status).toBe(200);
  });
});
