import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';

import {
  ClientType,
  type DevicePushJob,
  type PushJob,
  pushJobCodec,
  PushType,
  type RelayJob,
} from '@herald/contracts';
import { type PushQueue } from '@herald/messaging';
import { type Database, openDatabase, type RegisterDevice } from '@herald/persistence';
import { loadConfig } from '@herald/platform';

import { pushConfigSchema } from '../config/push.config';
import { type RelaySend } from '../providers/relay.client';
import { PushDeliveryService } from './push-delivery.service';
import { type PushProviders } from './push-providers';
import { RegistrationsService } from './registrations.service';

const VAULT: string = randomUUID();
const OTHER: string = randomUUID();

/**
 * Herald pushing through Bitwarden's relay, where it is one installation with one namespace: only
 * the users' own registrations may go there. Real registry (SQLite), recording queue and relay.
 */
describe('with Bitwarden’s relay configured', () => {
  let dataDir: string;
  let database: Database;
  const published = { deviceJobs: [] as DevicePushJob[], relayJobs: [] as RelayJob[] };
  const relaySends: RelaySend[] = [];
  const queue: PushQueue = {
    publishJob: () => Promise.resolve(),
    publishDeviceJob: (job) => Promise.resolve(void published.deviceJobs.push(job)),
    publishRelayJob: (job) => Promise.resolve(void published.relayJobs.push(job)),
  };
  const sent = { kind: 'sent' } as const;
  const providers: PushProviders = {
    relay: {
      send: (message) => Promise.resolve((relaySends.push(message), sent)),
      register: () => Promise.resolve(sent),
      delete: () => Promise.resolve(sent),
      addOrganization: () => Promise.resolve(sent),
      deleteOrganization: () => Promise.resolve(sent),
    },
  };
  let registrations: RegistrationsService;
  let delivery: PushDeliveryService;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'herald-upstream-'));
    database = await openDatabase({ dataDir });
    const config = loadConfig(pushConfigSchema, { HERALD_INSTALLATION_ID: VAULT });
    registrations = new RegistrationsService(database, queue, providers);
    delivery = new PushDeliveryService(
      database,
      queue,
      providers,
      config,
      pino({ level: 'silent' }),
      new Registry(),
    );
  });

  afterAll(async () => {
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const phone = (
    installationId: string | null,
    userId: string,
    id: string = randomUUID(),
  ): RegisterDevice => ({
    installationId,
    id,
    userId,
    identifier: `phone-${id}`,
    type: 0,
    provider: 'fcm',
    pushToken: `fcm-${randomUUID()}`,
  });

  const resolve = (job: Partial<PushJob> & Pick<PushJob, 'target'>) =>
    delivery.resolve({
      data: pushJobCodec.encode({
        jobId: `job-${randomUUID()}`,
        eventId: 'event',
        type: PushType.SyncVault,
        payload: {},
        contextId: null,
        excludeIdentifier: null,
        clientType: ClientType.All,
        acceptedAt: 0,
        ...job,
      }),
      attempt: 1,
      sequence: 1,
      subject: 'push.job',
    });

  it('forwards the users’ own registrations only, never an installation’s', async () => {
    const userId = randomUUID();
    const id = randomUUID();
    const before = published.relayJobs.length;

    await registrations.register(phone(null, userId, id));
    await registrations.register(phone(OTHER, userId, id));
    await registrations.changeOrganization(OTHER, 'add-organization', [id], randomUUID());
    await registrations.remove({ installationId: OTHER, id });
    await registrations.changeOrganization(null, 'add-organization', [id], randomUUID());

    expect(published.relayJobs.slice(before).map((job) => job.op)).toEqual(['register', 'add-organization']);
    expect(published.relayJobs[before]).toMatchObject({
      op: 'register',
      registration: { deviceId: id, userId },
    });
  });

  it('a vault event reaches the users’ own phones through the relay, the vault installation’s directly', async () => {
    const userId = randomUUID();
    await database.devices.register(phone(null, userId));
    const vaults = await database.devices.register(phone(VAULT, userId));
    await database.devices.register(phone(OTHER, userId));
    const [sends, deviceJobs] = [relaySends.length, published.deviceJobs.length];

    expect(await resolve({ target: { kind: 'user', id: userId } })).toEqual({ kind: 'ack' });

    expect(relaySends.slice(sends)).toEqual([expect.objectContaining({ userId })]);
    expect(published.deviceJobs.slice(deviceJobs)).toEqual([
      expect.objectContaining({ deviceId: vaults.id, installationId: VAULT }),
    ]);
  });

  it('a relay send reaches its installation’s phones directly, never through Bitwarden’s relay', async () => {
    const userId = randomUUID();
    await database.devices.register(phone(null, userId));
    const others = await database.devices.register(phone(OTHER, userId));
    const [sends, deviceJobs] = [relaySends.length, published.deviceJobs.length];

    expect(await resolve({ target: { kind: 'user', id: userId }, relayInstallationId: OTHER })).toEqual({
      kind: 'ack',
    });
    expect(published.deviceJobs.slice(deviceJobs)).toEqual([
      expect.objectContaining({ deviceId: others.id, installationId: OTHER }),
    ]);
    // An installation-wide vault event, too, goes to the vault installation's phones directly.
    const installationWide = published.deviceJobs.length;
    expect(await resolve({ target: { kind: 'installation', id: VAULT } })).toEqual({ kind: 'ack' });
    const reached = published.deviceJobs.slice(installationWide);
    expect(reached.length).toBeGreaterThan(0);
    expect(reached.filter((job) => job.installationId !== VAULT)).toEqual([]);
    expect(relaySends.slice(sends)).toEqual([]);
  });

  it('dead-letters a relay job queued without its installation (before the upgrade)', async () => {
    const outcome = await resolve({
      jobId: `relay:${randomUUID()}`,
      target: { kind: 'user', id: randomUUID() },
    });
    expect(outcome).toMatchObject({ kind: 'dead', reason: 'relay push job without its installation' });
  });
});
