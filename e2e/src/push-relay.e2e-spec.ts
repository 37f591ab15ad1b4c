import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { HeraldPublisher } from '@herald/publisher';
import {
  createTestDatabase,
  deleteNamespace,
  eventually,
  FakeFcm,
  FakeRelay,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
} from '@herald/testing';

/** The push worker on PostgreSQL, forwarding to Bitwarden's relay, and riding out a provider outage. */
describe('push worker on PostgreSQL', () => {
  let issuer: TestIssuer;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    issuer = await TestIssuer.create();
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }, 60_000);

  async function stack(extraEnv: Record<string, string>) {
    const namespace = testNamespace('pushpg');
    const database = await createTestDatabase();
    cleanups.push(
      () => database.drop(),
      () => deleteNamespace(namespace),
    );
    const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
    const [dispatcher, worker] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('push-worker', {
        ...env,
        HERALD_DATABASE_URL: database.url,
        HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
        ...extraEnv,
      }),
    ]);
    const publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
    cleanups.push(
      () => publisher.close(),
      async () => expect(await Promise.all([worker.stop(), dispatcher.stop()])).toEqual([0, 0]),
    );
    return { worker, publisher };
  }

  it('forwards registrations to Bitwarden’s relay asynchronously and sends through it', async () => {
    const herald = { installationId: randomUUID(), installationKey: `key-${randomUUID()}` };
    const bitwarden = await FakeRelay.start(herald);
    cleanups.push(() => bitwarden.stop());
    const { worker, publisher } = await stack({
      HERALD_PUSH_RELAY_URI: bitwarden.relayUri,
      HERALD_PUSH_IDENTITY_URI: bitwarden.identityUri,
      HERALD_PUSH_INSTALLATION_ID: herald.installationId,
      HERALD_PUSH_INSTALLATION_KEY: herald.installationKey,
    });
    const userId = randomUUID();
    const identifier = randomUUID();
    // The relay is down when the phone registers: the registration succeeds anyway.
    bitwarden.respondWith(503).respondWith(503);
    const phoneToken = await issuer.userToken(userId, { device: identifier, devicetype: 'Android' });
    const registered = await fetch(`${worker.url}/devices/identifier/${identifier}/token`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${phoneToken}` },
      body: JSON.stringify({ pushToken: 'fcm-token-of-the-phone' }),
    });
    expect(registered.status).toBe(200);
    const forwarded = await eventually(
      () => {
        const call = bitwarden.calls.find((candidate) => candidate.path === '/push/register');
        if (!call) throw new Error('not forwarded yet');
        return call;
      },
      { timeoutMs: 30_000 },
    );
    expect(forwarded.body).toMatchObject({
      pushToken: 'fcm-token-of-the-phone',
      userId,
      type: 0,
      identifier,
    });
    expect(bitwarden.calls.filter((call) => call.path === '/push/register').length).toBeGreaterThanOrEqual(1);

    // An event for the user goes to the relay's /push/send, the acting device named to exclude.
    await publisher.syncVault({ UserId: userId, Date: new Date() }, { contextId: 'web-vault-device' });
    const sent = await eventually(() => {
      const call = bitwarden.calls.find((candidate) => candidate.path === '/push/send');
      if (!call) throw new Error('not sent yet');
      return call;
    });
    expect(sent.body).toMatchObject({
      type: 5,
      userId,
      identifier: 'web-vault-device',
      payload: { UserId: userId },
    });
    // The fake records a call before answering it: wait for the worker to count the answers.
    await eventually(async () =>
      expect(
        await worker.metric('herald_push_sends_total', { provider: 'relay', outcome: 'sent' }),
      ).toBeGreaterThanOrEqual(2),
    );
    expect(
      await worker.metric('herald_push_sends_total', { provider: 'relay', outcome: 'retry' }),
    ).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('rides out a provider that is down for a minute: retried, then delivered, nothing dead-lettered', async () => {
    const fcm = await FakeFcm.start();
    cleanups.push(() => fcm.stop());
    const { worker, publisher } = await stack({
      HERALD_FCM_SERVICE_ACCOUNT: fcm.fakeServiceAccount(),
      HERALD_FCM_API_URL: fcm.apiUrl,
      HERALD_FCM_TOKEN_URL: fcm.tokenUrl,
    });
    const userId = randomUUID();
    const identifier = randomUUID();
    const phoneToken = await issuer.userToken(userId, { device: identifier, devicetype: 'Android' });
    expect(
      (
        await fetch(`${worker.url}/devices/identifier/${identifier}/token`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${phoneToken}` },
          body: JSON.stringify({ pushToken: 'fcm-phone' }),
        })
      ).status,
    ).toBe(200);
    fcm.downFor(60_000);
    const started = Date.now();
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      const id = randomUUID();
      ids.push(id);
      await publisher.syncCipherCreate({ Id: id, UserId: userId, RevisionDate: new Date() });
    }
    // The fake records every request, also those it answers 503: count what the worker saw accepted.
    await eventually(
      async () =>
        expect(await worker.metric('herald_push_sends_total', { provider: 'fcm', outcome: 'sent' })).toBe(3),
      { timeoutMs: 170_000, intervalMs: 500 },
    );
    // Each event accepted exactly once, whatever order the retries took.
    const accepted = fcm.received
      .filter((push) => push.answered === 200)
      .map((push) => (JSON.parse(push.data.payload!) as { Id: string }).Id);
    expect(accepted.sort()).toEqual([...ids].sort());
    const counts = {
      sent: await worker.metric('herald_push_sends_total', { provider: 'fcm', outcome: 'sent' }),
      retried: await worker.metric('herald_push_sends_total', { provider: 'fcm', outcome: 'retry' }),
      // A labelled series exists only once counted: the circuit may never open, and nothing is
      // meant to be dead-lettered or pruned.
      circuitOpen: await worker.metric(
        'herald_push_sends_total',
        { provider: 'fcm', outcome: 'circuit-open' },
        { absentAs: 0 },
      ),
      deadLettered: await worker.metric(
        'herald_push_jobs_total',
        { stage: 'send', outcome: 'dead' },
        { absentAs: 0 },
      ),
      pruned: await worker.metric(
        'herald_push_sends_total',
        { provider: 'fcm', outcome: 'gone' },
        { absentAs: 0 },
      ),
      outageAnswers: fcm.outageAnswers,
      secondsUntilAllDelivered: Math.round((Date.now() - started) / 1000),
    };
    process.stdout.write(`\n[push outage] ${JSON.stringify(counts)}\n`);
    expect(counts).toMatchObject({ sent: 3, deadLettered: 0, pruned: 0 });
    expect(counts.retried).toBeGreaterThan(0);
    expect(counts.secondsUntilAllDelivered).toBeGreaterThanOrEqual(60);
  }, 200_000);
});
