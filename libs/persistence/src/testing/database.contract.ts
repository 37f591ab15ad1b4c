import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  type Database,
  type DeviceKey,
  DeviceLimitError,
  type DeviceRecord,
  PersistenceValidationError,
  type RegisterDevice,
  type WebPushSubscription,
} from '../index';

/** One database under test: PostgreSQL (a schema) or SQLite (a data directory). */
export interface DatabaseUnderTest {
  /** Opens (again) the one database this target stands for. */
  open(): Promise<Database>;
  /** Rows of raw SQL against what is stored (SQLite: read from the file on disk). */
  rows(sql: string): Promise<Record<string, unknown>[]>;
}

const MIGRATION_NAMES = ['InitialSchema1795400000000', 'InstallationNamespaces1795500000000'];
/** The users' own namespace, as target queries name it. */
const USERS = [null];
const ANDROID = 0;
const IOS = 1;
const CHROME_EXTENSION = 2;

/**
 * The behaviour every `Database` must show, whatever engine is behind it. Run once per engine; the
 * first `open()` must meet an empty database.
 */
export function describeDatabaseContract(kind: Database['kind'], target: DatabaseUnderTest): void {
  describe(`Database contract (${kind})`, () => {
    let db: Database;
    /** Rows per table right after the first open, before any test wrote: the tests run in any order. */
    let firstOpened: Record<string, number>;

    beforeAll(async () => {
      db = await target.open();
      firstOpened = {};
      for (const table of ['device', 'device_organization', 'installation', 'secret']) {
        firstOpened[table] = Number((await target.rows(`SELECT COUNT(*) AS count FROM ${table}`))[0]?.count);
      }
    });

    afterAll(async () => {
      await db.close();
    });

    const count = async (sql: string): Promise<number> => Number((await target.rows(sql))[0]?.count);
    const memberships = (deviceId: string) =>
      count(`SELECT COUNT(*) AS count FROM device_organization WHERE device_id = '${deviceId}'`);

    describe('migrations', () => {
      it('create the schema on an empty database and are recorded once', async () => {
        expect(db.kind).toBe(kind);
        expect((await target.rows('SELECT name FROM migrations')).map((row) => row.name)).toEqual(
          MIGRATION_NAMES,
        );
        expect(firstOpened).toEqual({ device: 0, device_organization: 0, installation: 0, secret: 0 });
        expect(await db.ping()).toBe(true);
      });

      it('are not run again on reopen, and the data survives close + reopen', async () => {
        const device = await db.devices.register(registration({ organizationIds: [randomUUID()] }));
        const secret = await db.secrets.getOrCreate('reopen');
        const { installation, key } = await db.installations.create();

        await db.close();
        expect(await db.ping()).toBe(false);
        db = await target.open();

        expect(await db.devices.find(device)).toEqual(device);
        expect(await db.secrets.getOrCreate('reopen')).toEqual(secret);
        expect(await db.installations.verify(installation.id, key)).toEqual(installation);
        expect((await target.rows('SELECT name FROM migrations')).map((row) => row.name)).toEqual(
          MIGRATION_NAMES,
        );
      });
    });

    describe('devices', () => {
      it('register stores lowercase GUIDs and deduplicated, sorted organizations', async () => {
        const [orgA, orgB] = [randomUUID(), randomUUID()].sort();
        const input = registration({
          id: randomUUID().toUpperCase(),
          userId: randomUUID().toUpperCase(),
          installationId: randomUUID().toUpperCase(),
          organizationIds: [orgB!.toUpperCase(), orgA!, orgB!],
        });

        const device = await db.devices.register(input);

        expect(device).toEqual({
          id: input.id.toLowerCase(),
          userId: input.userId.toLowerCase(),
          identifier: input.identifier,
          type: ANDROID,
          provider: 'fcm',
          pushToken: input.pushToken,
          webPush: null,
          organizationIds: [orgA, orgB],
          installationId: input.installationId?.toLowerCase(),
          failureCount: 0,
          createdAt: expect.any(Date),
          updatedAt: expect.any(Date),
        });
        expect(await db.devices.find({ installationId: input.installationId, id: input.id })).toEqual(device);
        expect(
          await db.devices.findByIdentifier(input.installationId, input.userId, input.identifier),
        ).toEqual(device);
        expect(
          await db.devices.findByIdentifier(input.installationId, randomUUID(), input.identifier),
        ).toBeUndefined();
        expect(
          await db.devices.find({ installationId: input.installationId, id: randomUUID() }),
        ).toBeUndefined();
      });

      it('register again upserts: the row and the organization set are replaced, createdAt kept', async () => {
        const first = await db.devices.register(
          registration({ organizationIds: [randomUUID(), randomUUID()] }),
        );
        await db.devices.recordFailure(first);
        const orgC = randomUUID();

        const second = await db.devices.register({
          ...registration({ id: first.id, userId: first.userId, identifier: first.identifier }),
          type: IOS,
          provider: 'apns',
          pushToken: 'apns-token',
          organizationIds: [orgC],
        });

        expect(second).toMatchObject({
          id: first.id,
          type: IOS,
          provider: 'apns',
          pushToken: 'apns-token',
          organizationIds: [orgC],
          failureCount: 0,
          createdAt: first.createdAt,
        });
        expect(second.updatedAt.getTime()).toBeGreaterThanOrEqual(first.updatedAt.getTime());
        const stored = await target.rows(
          `SELECT organization_id FROM device_organization WHERE device_id = '${first.id}'`,
        );
        expect(stored.map((row) => row.organization_id)).toEqual([orgC]);
      });

      it('a new id for the same user and identifier replaces the stale device', async () => {
        const stale = await db.devices.register(registration({ organizationIds: [randomUUID()] }));

        const fresh = await db.devices.register(
          registration({ userId: stale.userId, identifier: stale.identifier }),
        );

        expect(await db.devices.find(stale)).toBeUndefined();
        expect(await db.devices.findByIdentifier(null, stale.userId, stale.identifier)).toEqual(fresh);
        expect(await memberships(stale.id)).toBe(0);
      });

      it('concurrent registrations of one device leave one whole organization set', async () => {
        const base = registration();
        const sets = Array.from({ length: 5 }, () => [randomUUID(), randomUUID(), randomUUID()].sort());

        await Promise.all(sets.map((organizationIds) => db.devices.register({ ...base, organizationIds })));

        const device = await db.devices.find(base);
        expect(sets).toContainEqual(device?.organizationIds);
      });

      it('updateWebPush and updatePushToken switch the channel of an existing device', async () => {
        const device = await db.devices.register(
          registration({ type: CHROME_EXTENSION, provider: null, pushToken: null }),
        );
        expect(device).toMatchObject({ provider: null, pushToken: null, webPush: null });
        await db.devices.recordFailure(device);
        const subscription = webPush();

        const subscribed = await db.devices.updateWebPush(
          null,
          device.userId.toUpperCase(),
          device.identifier,
          subscription,
        );
        expect(subscribed).toMatchObject({
          id: device.id,
          provider: 'webpush',
          pushToken: null,
          webPush: subscription,
          failureCount: 0,
        });

        const tokened = await db.devices.updatePushToken(
          null,
          device.userId,
          device.identifier,
          'apns',
          'new-token',
        );
        expect(tokened).toMatchObject({ provider: 'apns', pushToken: 'new-token', webPush: null });
        expect(await db.devices.find(device)).toEqual(tokened);

        expect(
          await db.devices.updatePushToken(null, randomUUID(), device.identifier, 'fcm', 'x'),
        ).toBeUndefined();
        expect(await db.devices.updateWebPush(null, device.userId, 'unknown', subscription)).toBeUndefined();
        // Another namespace does not hold the device, whatever the user and identifier.
        expect(
          await db.devices.updatePushToken(randomUUID(), device.userId, device.identifier, 'fcm', 'x'),
        ).toBeUndefined();
        expect(await db.devices.find(device)).toEqual(tokened);
      });

      it('findTargets by user: only devices with a channel, minus the excluded one, of the given types', async () => {
        const userId = randomUUID();
        const android = await db.devices.register(registration({ userId, identifier: 'android' }));
        const ios = await db.devices.register(registration({ userId, identifier: 'ios', type: IOS }));
        const extension = await db.devices.register(
          registration({
            userId,
            identifier: 'extension',
            type: CHROME_EXTENSION,
            provider: 'webpush',
            pushToken: null,
            webPush: webPush(),
          }),
        );
        await db.devices.register(
          registration({ userId, identifier: 'silent', provider: null, pushToken: null }),
        );
        await db.devices.register(registration({ identifier: 'android' })); // another user's

        expect(
          ids(await db.devices.findTargets({ namespaces: USERS, userId: userId.toUpperCase() })),
        ).toEqual(ids([android, ios, extension]));
        expect(
          ids(await db.devices.findTargets({ namespaces: USERS, userId, excludeIdentifier: 'android' })),
        ).toEqual(ids([ios, extension]));
        expect(await db.devices.findTargets({ namespaces: USERS, userId, deviceTypes: [IOS] })).toEqual([
          ios,
        ]);
        expect(
          ids(
            await db.devices.findTargets({
              namespaces: USERS,
              userId,
              deviceTypes: [ANDROID, IOS],
              excludeIdentifier: 'ios',
            }),
          ),
        ).toEqual([android.id]);
        expect(await db.devices.findTargets({ namespaces: USERS, userId, deviceTypes: [] })).toEqual([]);
        expect(
          ids(await db.devices.findTargets({ namespaces: USERS, userId, excludeIdentifier: null })),
        ).toHaveLength(3);
      });

      it('findTargets by organization', async () => {
        const organizationId = randomUUID();
        const member = await db.devices.register(
          registration({ organizationIds: [organizationId, randomUUID()] }),
        );
        const otherMember = await db.devices.register(
          registration({ type: IOS, organizationIds: [organizationId] }),
        );
        await db.devices.register(
          registration({ provider: null, pushToken: null, organizationIds: [organizationId] }),
        );
        await db.devices.register(registration({ organizationIds: [randomUUID()] }));

        const targets = await db.devices.findTargets({ namespaces: USERS, organizationId });
        expect(ids(targets)).toEqual(ids([member, otherMember]));
        expect(targets.find((device) => device.id === member.id)).toEqual(member);
        expect(
          await db.devices.findTargets({
            namespaces: USERS,
            organizationId,
            excludeIdentifier: otherMember.identifier,
          }),
        ).toEqual([member]);
        expect(
          await db.devices.findTargets({ namespaces: USERS, organizationId, deviceTypes: [IOS] }),
        ).toEqual([otherMember]);
      });

      it('findTargets everyone of a namespace', async () => {
        const installationId = randomUUID();
        const mobile = await db.devices.register(registration({ installationId }));
        const extension = await db.devices.register(
          registration({
            installationId,
            type: CHROME_EXTENSION,
            provider: 'webpush',
            pushToken: null,
            webPush: webPush(),
          }),
        );
        await db.devices.register(registration({ installationId, provider: null, pushToken: null }));
        await db.devices.register(registration({ installationId: randomUUID() }));

        const namespaces = [installationId.toUpperCase()];
        expect(ids(await db.devices.findTargets({ namespaces, everyone: true }))).toEqual(
          ids([mobile, extension]),
        );
        expect(
          await db.devices.findTargets({ namespaces, everyone: true, deviceTypes: [CHROME_EXTENSION] }),
        ).toEqual([extension]);
      });

      it('addOrganization and removeOrganization change memberships and count the devices changed', async () => {
        const organizationId = randomUUID();
        const first = await db.devices.register(registration());
        const second = await db.devices.register(registration());

        expect(
          await db.devices.addOrganization(
            null,
            [first.id, second.id.toUpperCase(), randomUUID(), first.id],
            organizationId.toUpperCase(),
          ),
        ).toBe(2);
        expect(await db.devices.addOrganization(null, [first.id], organizationId)).toBe(0);
        expect(await db.devices.addOrganization(null, [], organizationId)).toBe(0);
        expect((await db.devices.find(first))?.organizationIds).toEqual([organizationId]);
        expect(ids(await db.devices.findTargets({ namespaces: USERS, organizationId }))).toEqual(
          ids([first, second]),
        );

        expect(await db.devices.removeOrganization(null, [first.id, randomUUID()], organizationId)).toBe(1);
        expect(await db.devices.removeOrganization(null, [first.id], organizationId)).toBe(0);
        expect((await db.devices.find(first))?.organizationIds).toEqual([]);
        expect(ids(await db.devices.findTargets({ namespaces: USERS, organizationId }))).toEqual([second.id]);
      });

      it('clearPushRegistration keeps the device but takes it out of the targets', async () => {
        const organizationId = randomUUID();
        const device = await db.devices.register(registration({ organizationIds: [organizationId] }));
        await db.devices.recordFailure(device);

        await db.devices.clearPushRegistration(device);

        expect(await db.devices.find(device)).toMatchObject({
          provider: null,
          pushToken: null,
          webPush: null,
          failureCount: 0,
          organizationIds: [organizationId],
        });
        expect(await db.devices.findTargets({ namespaces: USERS, userId: device.userId })).toEqual([]);
        expect(await db.devices.findTargets({ namespaces: USERS, organizationId })).toEqual([]);
        await expect(
          db.devices.clearPushRegistration({ installationId: null, id: randomUUID() }),
        ).resolves.toBeUndefined();
      });

      it('recordFailure counts up atomically and resetFailures starts over', async () => {
        const device = await db.devices.register(registration());

        expect(await db.devices.recordFailure(device)).toBe(1);
        expect(await db.devices.recordFailure(device)).toBe(2);
        const counts = await Promise.all(Array.from({ length: 5 }, () => db.devices.recordFailure(device)));
        expect([...counts].sort()).toEqual([3, 4, 5, 6, 7]);
        expect((await db.devices.find(device))?.failureCount).toBe(7);

        await db.devices.resetFailures(device);
        expect((await db.devices.find(device))?.failureCount).toBe(0);
        expect(await db.devices.recordFailure({ installationId: null, id: randomUUID() })).toBe(0);
      });

      it('remove deletes the device and, cascading, its memberships', async () => {
        const device = await db.devices.register(
          registration({ organizationIds: [randomUUID(), randomUUID()] }),
        );
        expect(await memberships(device.id)).toBe(2);

        expect(await db.devices.remove({ installationId: null, id: device.id.toUpperCase() })).toBe(true);
        expect(await db.devices.remove(device)).toBe(false);

        expect(await db.devices.find(device)).toBeUndefined();
        expect(await memberships(device.id)).toBe(0);
      });
    });

    describe('namespaces', () => {
      /** One device id, user and identifier registered three times: by A, by B and by the user. */
      async function registeredThrice(organizationId = randomUUID()) {
        const shared = {
          id: randomUUID(),
          userId: randomUUID(),
          identifier: randomUUID(),
          organizationIds: [organizationId],
        };
        const [a, b] = [randomUUID(), randomUUID()];
        const inA = await db.devices.register(
          registration({ ...shared, installationId: a, pushToken: 'token-a' }),
        );
        const inB = await db.devices.register(
          registration({ ...shared, installationId: b, pushToken: 'token-b' }),
        );
        const own = await db.devices.register(
          registration({ ...shared, installationId: null, pushToken: 'own' }),
        );
        return { a, b, organizationId, inA, inB, own, ...shared };
      }

      it('the same device id, user and identifier in two namespaces are two registrations', async () => {
        const { a, b, inA, inB, own, id, userId, identifier } = await registeredThrice();

        expect([inA.installationId, inB.installationId, own.installationId]).toEqual([a, b, null]);
        expect(await db.devices.find({ installationId: a.toUpperCase(), id })).toEqual(inA);
        expect(await db.devices.find({ installationId: b, id })).toMatchObject({ pushToken: 'token-b' });
        expect(await db.devices.find({ installationId: null, id })).toMatchObject({ pushToken: 'own' });
        expect(await db.devices.findByIdentifier(a, userId, identifier)).toEqual(inA);
        expect(await db.devices.findByIdentifier(null, userId, identifier)).toEqual(own);
        expect(await db.devices.find({ installationId: randomUUID(), id })).toBeUndefined();
        expect(await count(`SELECT COUNT(*) AS count FROM device WHERE id = '${id}'`)).toBe(3);
      });

      it('re-registering, a stale id and removing stay inside the namespace', async () => {
        const { a, b, inB, own, id, userId, identifier } = await registeredThrice();

        // B re-registers its device with a new token; A's and the user's keep theirs.
        await db.devices.register(
          registration({ installationId: b, id, userId, identifier, pushToken: 'token-b2' }),
        );
        // A registers the same user's identifier under a new id: only A's old id is replaced.
        const fresh = await db.devices.register(registration({ installationId: a, userId, identifier }));

        expect(await db.devices.find({ installationId: a, id })).toBeUndefined();
        expect(await db.devices.findByIdentifier(a, userId, identifier)).toEqual(fresh);
        expect(await db.devices.find(inB)).toMatchObject({ pushToken: 'token-b2', createdAt: inB.createdAt });
        expect(await db.devices.find(own)).toEqual(own);

        expect(await db.devices.remove({ installationId: a, id })).toBe(false);
        expect(await db.devices.remove(inB)).toBe(true);
        expect(await db.devices.find(inB)).toBeUndefined();
        expect(await db.devices.find(own)).toEqual(own);
        expect(await db.devices.find(fresh)).toEqual(fresh);
      });

      it('organization changes reach the namespace’s devices only', async () => {
        const { a, b, inA, inB, own, id } = await registeredThrice();
        const organizationId = randomUUID();

        // B names the device id A also registered: only B's registration joins.
        expect(await db.devices.addOrganization(b, [id], organizationId)).toBe(1);
        expect((await db.devices.find(inA))?.organizationIds).toEqual(inA.organizationIds);
        expect((await db.devices.find(own))?.organizationIds).toEqual(own.organizationIds);
        expect((await db.devices.find(inB))?.organizationIds).toEqual(
          [...inB.organizationIds, organizationId].sort(),
        );

        // B cannot take A's device out of A's organization.
        expect(await db.devices.removeOrganization(b, [id], inA.organizationIds[0]!)).toBe(1);
        expect((await db.devices.find(inA))?.organizationIds).toEqual(inA.organizationIds);
        expect(await db.devices.removeOrganization(a, [id], organizationId)).toBe(0);
        expect((await db.devices.find(inB))?.organizationIds).toEqual([organizationId]);
      });

      it('findTargets sees only the namespaces it names', async () => {
        const { a, b, organizationId, inA, inB, own, userId } = await registeredThrice();

        expect(await db.devices.findTargets({ namespaces: [a], userId })).toEqual([inA]);
        expect(await db.devices.findTargets({ namespaces: [b], organizationId })).toEqual([inB]);
        expect(await db.devices.findTargets({ namespaces: [null], userId })).toEqual([own]);
        expect(await db.devices.findTargets({ namespaces: [b], everyone: true })).toEqual([inB]);
        expect(await db.devices.findTargets({ namespaces: [randomUUID()], userId })).toEqual([]);
        const both = await db.devices.findTargets({ namespaces: [null, a], organizationId });
        expect(both.map((device) => device.installationId).sort()).toEqual([a, null].sort());
      });

      it('failures and dead registrations are counted and cleared per namespace', async () => {
        const { inA, inB, own } = await registeredThrice();

        expect(await db.devices.recordFailure(inA)).toBe(1);
        expect(await db.devices.recordFailure(inA)).toBe(2);
        await db.devices.clearPushRegistration(inB);
        await db.devices.resetFailures(own);

        expect(await db.devices.find(inA)).toMatchObject({ failureCount: 2, pushToken: 'token-a' });
        expect(await db.devices.find(inB)).toMatchObject({
          failureCount: 0,
          pushToken: null,
          provider: null,
        });
        expect(await db.devices.find(own)).toMatchObject({ failureCount: 0, pushToken: 'own' });
        await db.devices.resetFailures(inB);
        expect((await db.devices.find(inA))?.failureCount).toBe(2);
      });
    });

    describe('devices per user', () => {
      it('a registration past the limit is refused; re-registering one of them is not', async () => {
        const userId = randomUUID();
        const limit = { maxDevicesPerUser: 3 };
        const devices = [];
        for (let index = 0; index < 3; index += 1) {
          devices.push(await db.devices.register(registration({ userId }), limit));
        }

        const refused = await db.devices
          .register(registration({ userId }), limit)
          .catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(DeviceLimitError);
        expect(refused).toMatchObject({ userId, limit: 3 });
        expect(await count(`SELECT COUNT(*) AS count FROM device WHERE user_id = '${userId}'`)).toBe(3);

        // The same id with a new token, and the same identifier under a new id, replace a device.
        const [first, second] = devices;
        await db.devices.register(
          registration({ id: first!.id, userId, identifier: first!.identifier }),
          limit,
        );
        const replaced = await db.devices.register(
          registration({ userId, identifier: second!.identifier }),
          limit,
        );
        expect(await db.devices.find(second!)).toBeUndefined();
        expect(await db.devices.find(replaced)).toEqual(replaced);
        // Other users, other namespaces and calls without a limit are not concerned.
        await db.devices.register(registration(), limit);
        await db.devices.register(registration({ userId, installationId: randomUUID() }), limit);
        await db.devices.register(registration({ userId }));
        expect(await count(`SELECT COUNT(*) AS count FROM device WHERE user_id = '${userId}'`)).toBe(5);
      });

      it('concurrent registrations of one user never pass the limit together', async () => {
        const userId = randomUUID();

        const outcomes = await Promise.allSettled(
          Array.from({ length: 8 }, () =>
            db.devices.register(registration({ userId }), { maxDevicesPerUser: 3 }),
          ),
        );

        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled').length).toBe(3);
        for (const outcome of outcomes.filter((candidate) => candidate.status === 'rejected')) {
          expect(outcome.reason).toBeInstanceOf(DeviceLimitError);
        }
        expect(await count(`SELECT COUNT(*) AS count FROM device WHERE user_id = '${userId}'`)).toBe(3);
      });
    });

    describe('installations', () => {
      it('create returns a random id and key that verify', async () => {
        const { installation, key } = await db.installations.create();

        expect(installation).toEqual({ id: expect.any(String), enabled: true, createdAt: expect.any(Date) });
        expect(installation.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(key).toMatch(/^[A-Za-z0-9_-]{20,}$/);
        expect(await db.installations.findById(installation.id)).toEqual(installation);
        expect(await db.installations.verify(installation.id.toUpperCase(), key)).toEqual(installation);
      });

      it('verify refuses a wrong key, an unknown installation and a disabled one', async () => {
        const { installation, key } = await db.installations.create();
        const other = await db.installations.create();

        expect(await db.installations.verify(installation.id, `${key}x`)).toBeUndefined();
        expect(await db.installations.verify(installation.id, other.key)).toBeUndefined();
        expect(await db.installations.verify(installation.id, '')).toBeUndefined();
        expect(await db.installations.verify(randomUUID(), key)).toBeUndefined();
        expect(await db.installations.findById(randomUUID())).toBeUndefined();

        expect(await db.installations.setEnabled(installation.id, false)).toBe(true);
        expect(await db.installations.verify(installation.id, key)).toBeUndefined();
        expect(await db.installations.findById(installation.id)).toMatchObject({ enabled: false });
        expect(await db.installations.setEnabled(installation.id, true)).toBe(true);
        expect(await db.installations.verify(installation.id, key)).toMatchObject({ enabled: true });
        expect(await db.installations.setEnabled(randomUUID(), false)).toBe(false);
      });

      it('list gives every installation with its state, and no key', async () => {
        const first = await db.installations.create();
        const second = await db.installations.create();
        await db.installations.setEnabled(second.installation.id, false);

        const listed = await db.installations.list();

        expect(listed).toEqual(
          expect.arrayContaining([first.installation, { ...second.installation, enabled: false }]),
        );
        for (const record of listed)
          expect(Object.keys(record).sort()).toEqual(['createdAt', 'enabled', 'id']);
      });

      it('stores a salted hash of the key, never the key', async () => {
        const first = await db.installations.create();
        const second = await db.installations.create();

        const stored = await target.rows(
          `SELECT id, key_hash FROM installation WHERE id IN ('${first.installation.id}', '${second.installation.id}')`,
        );

        expect(stored).toHaveLength(2);
        for (const row of stored) {
          const { key } = row.id === first.installation.id ? first : second;
          expect(row.key_hash).toMatch(/^scrypt\$/);
          expect(String(row.key_hash)).not.toContain(key);
        }
        expect(stored[0]!.key_hash).not.toEqual(stored[1]!.key_hash);
      });
    });

    describe('secrets', () => {
      it('getOrCreate makes a 32-byte secret once and returns it from then on', async () => {
        const secret = await db.secrets.getOrCreate('vapid');

        expect(secret).toBeInstanceOf(Buffer);
        expect(secret).toHaveLength(32);
        expect(await db.secrets.getOrCreate('vapid')).toEqual(secret);
        expect(await db.secrets.getOrCreate('other')).not.toEqual(secret);
      });

      it('concurrent first calls all get the same value', async () => {
        const secrets = await Promise.all(Array.from({ length: 8 }, () => db.secrets.getOrCreate('raced')));

        expect(new Set(secrets.map((secret) => secret.toString('hex'))).size).toBe(1);
      });
    });

    describe('validation', () => {
      const id = randomUUID();

      it.each<[string, string, (database: Database) => Promise<unknown>]>([
        ['id', 'register: non-GUID id', (d) => d.devices.register(registration({ id: 'device-1' }))],
        ['userId', 'register: empty user id', (d) => d.devices.register(registration({ userId: '' }))],
        [
          'identifier',
          'register: empty identifier',
          (d) => d.devices.register(registration({ identifier: '' })),
        ],
        ['type', 'register: unknown type', (d) => d.devices.register(registration({ type: 27 }))],
        ['type', 'register: fractional type', (d) => d.devices.register(registration({ type: 1.5 }))],
        ['type', 'register: negative type', (d) => d.devices.register(registration({ type: -1 }))],
        [
          'provider',
          'register: unknown provider',
          (d) => d.devices.register({ ...registration(), provider: 'gcm' as 'fcm' }),
        ],
        [
          'organizationIds[1]',
          'register: bad organization id',
          (d) => d.devices.register(registration({ organizationIds: [randomUUID(), 'org'] })),
        ],
        [
          'installationId',
          'register: bad installation id',
          (d) => d.devices.register(registration({ installationId: 'x' })),
        ],
        [
          'installationId',
          'register: no namespace',
          (d) => d.devices.register({ ...registration(), installationId: undefined as unknown as null }),
        ],
        [
          'installationId',
          'register: the nil GUID is no installation',
          (d) => d.devices.register(registration({ installationId: '00000000-0000-0000-0000-000000000000' })),
        ],
        [
          'maxDevicesPerUser',
          'register: a limit of 0',
          (d) => d.devices.register(registration(), { maxDevicesPerUser: 0 }),
        ],
        [
          'webPush.endpoint',
          'register: non-http endpoint',
          (d) =>
            d.devices.register(
              registration({ pushToken: null, webPush: { ...webPush(), endpoint: 'ftp://push.example' } }),
            ),
        ],
        [
          'webPush',
          'register: token and subscription',
          (d) => d.devices.register(registration({ webPush: webPush() })),
        ],
        ['key.id', 'find', (d) => d.devices.find({ installationId: null, id: '42' })],
        ['key.installationId', 'find: no namespace', (d) => d.devices.find({ id } as DeviceKey)],
        ['identifier', 'findByIdentifier', (d) => d.devices.findByIdentifier(null, id, '')],
        ['namespace', 'findByIdentifier: bad namespace', (d) => d.devices.findByIdentifier('x', id, 'i')],
        [
          'provider',
          'updatePushToken: webpush',
          (d) => d.devices.updatePushToken(null, id, 'x', 'webpush', 't'),
        ],
        [
          'pushToken',
          'updatePushToken: empty token',
          (d) => d.devices.updatePushToken(null, id, 'x', 'fcm', ''),
        ],
        [
          'subscription.auth',
          'updateWebPush',
          (d) => d.devices.updateWebPush(null, id, 'x', { ...webPush(), auth: '' }),
        ],
        [
          'namespaces',
          'findTargets: no namespace',
          (d) => d.devices.findTargets({ namespaces: [], userId: id }),
        ],
        [
          'namespaces[1]',
          'findTargets: bad namespace',
          (d) => d.devices.findTargets({ namespaces: [null, 'x'], userId: id }),
        ],
        ['query', 'findTargets: no audience', (d) => d.devices.findTargets({ namespaces: USERS })],
        [
          'query',
          'findTargets: two audiences',
          (d) => d.devices.findTargets({ namespaces: USERS, userId: id, organizationId: id }),
        ],
        [
          'deviceTypes[0]',
          'findTargets: bad type',
          (d) => d.devices.findTargets({ namespaces: USERS, userId: id, deviceTypes: [99] }),
        ],
        ['deviceIds[0]', 'addOrganization: device id', (d) => d.devices.addOrganization(null, ['x'], id)],
        ['namespace', 'addOrganization: namespace', (d) => d.devices.addOrganization('x', [id], id)],
        [
          'organizationId',
          'removeOrganization: org id',
          (d) => d.devices.removeOrganization(null, [id], 'x'),
        ],
        ['key.id', 'remove', (d) => d.devices.remove({ installationId: null, id: 'x' })],
        ['key.installationId', 'remove: namespace', (d) => d.devices.remove({ installationId: 'x', id })],
        ['key.id', 'recordFailure', (d) => d.devices.recordFailure({ installationId: null, id: 'x' })],
        ['id', 'installations.verify', (d) => d.installations.verify('x', 'key')],
        ['name', 'secrets.getOrCreate', (d) => d.secrets.getOrCreate('')],
      ])('%s is refused (%s)', async (field, _case, call) => {
        await expectInvalid(() => call(db), field);
      });

      it('happens before the database is touched', async () => {
        const closed = await target.open();
        await closed.close();

        await expectInvalid(() => closed.devices.register(registration({ type: 99 })), 'type');
        await expectInvalid(() => closed.devices.findTargets({ namespaces: USERS, userId: 'x' }), 'userId');
        expect(await closed.ping()).toBe(false);
      });
    });
  });
}

function registration(overrides: Partial<RegisterDevice> = {}): RegisterDevice {
  return {
    installationId: null,
    id: randomUUID(),
    userId: randomUUID(),
    identifier: randomUUID(),
    type: ANDROID,
    provider: 'fcm',
    pushToken: `fcm-${randomUUID()}`,
    ...overrides,
  };
}

function webPush(): WebPushSubscription {
  return {
    endpoint: `https://push.example/send/${randomUUID()}`,
    p256dh: 'BOr2QgY6ZgSZkrNBrmrfd3jqnOvlr6ZxZmu8JbUkhnYxbmGm8C2ds0jnb9ZUWgKQ0BzmW_jRwyNQ3oaBxkwNrcs',
    auth: 'UtBBxNfTmS7ZQNePpJqgsA',
  };
}

function ids(devices: DeviceRecord[]): string[] {
  return devices.map((device) => device.id).sort();
}

async function expectInvalid(call: () => Promise<unknown>, field: string): Promise<void> {
  const error = await Promise.resolve()
    .then(call)
    .then(
      () => undefined,
      (reason: unknown) => reason,
    );
  expect(error).toBeInstanceOf(PersistenceValidationError);
  expect(error).toMatchObject({ field });
}
