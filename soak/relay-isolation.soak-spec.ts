import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  createTestDatabase,
  deleteNamespace,
  eventually,
  FakeFcm,
  ServiceProcess,
  TEST_NATS_URL,
  testNamespace,
  WORKSPACE_ROOT,
} from '@herald/testing';

const SEED = Number(process.env['HERALD_SOAK_SEED'] ?? 20261201);
const INSTALLATIONS = 4;
const ROUNDS = 6;
const CHANGES_PER_ROUND = 60;
const SENDS_PER_ROUND = 40;

/** A small seeded generator (mulberry32): the same seed gives the same run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Installation {
  index: number;
  id: string;
  token: string;
}

/** What one installation has registered, as the test believes it: device id → registration. */
type Registry = Map<string, { userId: string; organizations: Set<string>; pushToken: string }>;

/**
 * Randomized relay installations sharing one push worker (PostgreSQL), all naming the same small
 * pool of users, organizations and device ids, registering, deleting, joining and leaving
 * organizations and sending by user, organization and installation. After each round of sends
 * every push the provider got is checked against the sender's own registrations: a push to another
 * installation's device is a leak; a registration of the sender's that should have been pushed and
 * was not is a loss.
 */
describe('relay installations under randomized use', () => {
  const namespace = testNamespace('relayprop');
  const cleanups: (() => Promise<unknown>)[] = [];
  const next = random(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const users = Array.from({ length: 6 }, () => randomUUID());
  const organizations = Array.from({ length: 3 }, () => randomUUID());
  const deviceIds = Array.from({ length: 8 }, () => randomUUID());
  let fcm: FakeFcm;
  let worker: ServiceProcess;
  let installations: Installation[];
  const registries: Registry[] = Array.from({ length: INSTALLATIONS }, () => new Map());
  let pushTokenCount = 0;

  const relay = async (caller: Installation, method: string, path: string, body: unknown) => {
    const response = await fetch(`${worker.url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${caller.token}` },
      body: JSON.stringify(body),
    });
    expect({ path, status: response.status }).toEqual({ path, status: 200 });
  };

  beforeAll(async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    fcm = await FakeFcm.start();
    cleanups.push(
      () => fcm.stop(),
      () => deleteNamespace(namespace),
    );
    const herald = (...args: string[]) =>
      execFileSync(
        process.execPath,
        [join(WORKSPACE_ROOT, 'dist', 'cli', 'apps', 'cli', 'src', 'main.js'), ...args],
        {
          env: { ...process.env, HERALD_DATABASE_URL: database.url },
          encoding: 'utf8',
        },
      );
    const created = Array.from({ length: INSTALLATIONS }, () => herald('installation', 'create')).map(
      (printed) => ({
        id: /installation id:\s+(\S+)/.exec(printed)![1]!,
        key: /installation key:\s+(\S+)/.exec(printed)![1]!,
      }),
    );
    worker = await ServiceProcess.start('push-worker', {
      HERALD_NATS_URL: TEST_NATS_URL,
      HERALD_NAMESPACE: namespace,
      HERALD_DATABASE_URL: database.url,
      HERALD_FCM_SERVICE_ACCOUNT: fcm.fakeServiceAccount(),
      HERALD_FCM_API_URL: fcm.apiUrl,
      HERALD_FCM_TOKEN_URL: fcm.tokenUrl,
      HERALD_LOG_LEVEL: 'info',
    });
    cleanups.push(() => worker.stop());
    installations = await Promise.all(
      created.map(async ({ id, key }, index) => {
        const response = await fetch(`${worker.url}/connect/token`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            scope: 'api.push',
            client_id: `installation.${id}`,
            client_secret: key,
          }),
        });
        expect(response.status).toBe(200);
        return { index, id, token: ((await response.json()) as { access_token: string }).access_token };
      }),
    );
  }, 60_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }, 60_000);

  /** One random registration change by a random installation, applied to the model too. */
  async function change(): Promise<void> {
    const caller = pick(installations);
    const registry = registries[caller.index]!;
    const deviceId = pick(deviceIds);
    const roll = next();
    if (roll < 0.5) {
      const orgs = organizations.filter(() => next() < 0.4);
      pushTokenCount += 1;
      const pushToken = `fcm-i${caller.index}-${pushTokenCount}`;
      const userId = pick(users);
      await relay(caller, 'POST', '/push/register', {
        deviceId,
        pushToken,
        userId,
        type: 0,
        identifier: `${caller.index}-${deviceId}`,
        organizationIds: orgs,
      });
      registry.set(deviceId, { userId, organizations: new Set(orgs), pushToken });
    } else if (roll < 0.65) {
      await relay(caller, 'POST', '/push/delete', { id: deviceId });
      registry.delete(deviceId);
    } else {
      const organizationId = pick(organizations);
      const devices = deviceIds.filter(() => next() < 0.4);
      const joining = roll < 0.85;
      await relay(caller, 'PUT', joining ? '/push/add-organization' : '/push/delete-organization', {
        devices: devices.map((id) => ({ id })),
        organizationId,
      });
      for (const id of devices) {
        const device = registry.get(id);
        if (!device) continue;
        if (joining) device.organizations.add(organizationId);
        else device.organizations.delete(organizationId);
      }
    }
  }

  it('never pushes to another installation, and reaches every registration of the sender', async () => {
    let sends = 0;
    let pushes = 0;
    let leaks = 0;
    let lost = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      for (let index = 0; index < CHANGES_PER_ROUND; index += 1) await change();
      // Sends of this round, with the recipients the sender's own registrations give.
      const expected = new Map<string, Set<string>>();
      const senderOf = new Map<string, number>();
      for (let index = 0; index < SENDS_PER_ROUND; index += 1) {
        const caller = pick(installations);
        const registry = [...registries[caller.index]!.values()];
        const id = randomUUID();
        const kind = pick(['user', 'organization', 'installation'] as const);
        const userId = pick(users);
        const organizationId = pick(organizations);
        const target =
          kind === 'user'
            ? { userId }
            : kind === 'organization'
              ? { organizationId }
              : { installationId: caller.id };
        const recipients = registry.filter((device) =>
          kind === 'user'
            ? device.userId === userId
            : kind === 'organization'
              ? device.organizations.has(organizationId)
              : true,
        );
        expected.set(id, new Set(recipients.map((device) => device.pushToken)));
        senderOf.set(id, caller.index);
        await relay(caller, 'POST', '/push/send', {
          type: 0,
          payload: { id, userId, revisionDate: new Date().toISOString() },
          ...target,
        });
        sends += 1;
      }
      // The round's marker: each installation sends to its whole registry last; once each marker
      // reached every device it should, the worker (in order) has handled every send before it.
      const markers = installations.map((caller) => ({ caller, id: randomUUID() }));
      for (const { caller, id } of markers) {
        expected.set(id, new Set([...registries[caller.index]!.values()].map((device) => device.pushToken)));
        senderOf.set(id, caller.index);
        await relay(caller, 'POST', '/push/send', {
          type: 0,
          payload: { id, userId: users[0], revisionDate: new Date().toISOString() },
          installationId: caller.id,
        });
      }
      const receivedBy = () => {
        const byId = new Map<string, string[]>();
        for (const push of fcm.received) {
          const id = (JSON.parse(push.data.payload ?? '{}') as { Id?: string }).Id;
          if (id === undefined || !expected.has(id)) continue;
          byId.set(id, [...(byId.get(id) ?? []), push.token]);
        }
        return byId;
      };
      await eventually(
        () => {
          const got = receivedBy();
          for (const { id } of markers) expect(new Set(got.get(id) ?? [])).toEqual(expected.get(id));
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const got = receivedBy();
      for (const [id, tokens] of expected) {
        const arrived = got.get(id) ?? [];
        pushes += arrived.length;
        const sender = senderOf.get(id)!;
        // Tokens carry the index of the installation that registered them.
        leaks += arrived.filter((token) => !token.startsWith(`fcm-i${sender}-`) || !tokens.has(token)).length;
        lost += [...tokens].filter((token) => !arrived.includes(token)).length;
      }
    }
    process.stdout.write(
      `[soak:relay-isolation] seed=${SEED} installations=${INSTALLATIONS} sends=${sends} pushes=${pushes} leaks=${leaks} lost=${lost}\n`,
    );
    expect({ leaks, lost }).toEqual({ leaks: 0, lost: 0 });
    expect(pushes).toBeGreaterThan(0);
  }, 600_000);
});
