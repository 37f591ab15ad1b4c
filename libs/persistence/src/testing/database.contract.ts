import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  type Database,
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

const MIGRATION_NAMES = ['InitialSchema1795400000000'];
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

        expect(await db.devices.findById(device.id)).toEqual(device);
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
        expect(await db.devices.findById(input.id)).toEqual(device);
        expect(await db.devices.findByIdentifier(input.userId, input.identifier)).toEqual(device);
        expect(await db.devices.findByIdentifier(randomUUID(), input.identifier)).toBeUndefined();
        expect(await db.devices.findById(randomUUID())).toBeUndefined();
      });

      it('register again upserts: the row and the organization set are replaced, createdAt kept', async () => {
        const first = await db.devices.register(
          registration({ organizationIds: [randomUUID(), randomUUID()] }),
        );
        await db.devices.recordFailure(first.id);
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

        expect(await db.devices.findById(stale.id)).toBeUndefined();
        expect(await db.devices.findByIdentifier(stale.userId, stale.identifier)).toEqual(fresh);
        expect(await memberships(stale.id)).toBe(0);
      });

      it('concurrent registrations of one device leave one whole organization set', async () => {
        const base = registration();
        const sets = Array.from({ length: 5 }, () => [randomUUID(), randomUUID(), randomUUID()].sort());

        await Promise.all(sets.map((organizationIds) => db.devices.register({ ...base, organizationIds })));

        const device = await db.devices.findById(base.id);
        expect(sets).toContainEqual(device?.organizationIds);
      });

      it('updateWebPush and updatePushToken switch the channel of an existing device', async () => {
        const device = await db.devices.register(
          registration({ type: CHROME_EXTENSION, provider: null, pushToken: null }),
        );
        expect(device).toMatchObject({ provider: null, pushToken: null, webPush: null });
        await db.devices.recordFailure(device.id);
        const subscription = webPush();

        const subscribed = await db.devices.updateWebPush(
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
          device.userId,
          device.identifier,
          'apns',
          'new-token',
        );
        expect(tokened).toMatchObject({ provider: 'apns', pushToken: 'new-token', webPush: null });
        expect(await db.devices.findById(device.id)).toEqual(tokened);

        expect(await db.devices.updatePushToken(randomUUID(), device.identifier, 'fcm', 'x')).toBeUndefined();
        expect(await db.devices.updateWebPush(device.userId, 'unknown', subscription)).toBeUndefined();
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

        expect(ids(await db.devices.findTargets({ userId: userId.toUpperCase() }))).toEqual(
          ids([android, ios, extension]),
        );
        expect(ids(await db.devices.findTargets({ userId, excludeIdentifier: 'android' }))).toEqual(
          ids([ios, extension]),
        );
        expect(await db.devices.findTargets({ userId, deviceTypes: [IOS] })).toEqual([ios]);
        expect(
          ids(
            await db.devices.findTargets({ userId, deviceTypes: [ANDROID, IOS], excludeIdentifier: 'ios' }),
          ),
        ).toEqual([android.id]);
        expect(await db.devices.findTargets({ userId, deviceTypes: [] })).toEqual([]);
        expect(ids(await db.devices.findTargets({ userId, excludeIdentifier: null }))).toHaveLength(3);
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

        const targets = await db.devices.findTargets({ organizationId });
        expect(ids(targets)).toEqual(ids([member, otherMember]));
        expect(targets.find((device) => device.id === member.id)).toEqual(member);
        expect(
          await db.devices.findTargets({ organizationId, excludeIdentifier: otherMember.identifier }),
        ).toEqual([member]);
        expect(await db.devices.findTargets({ organizationId, deviceTypes: [IOS] })).toEqual([otherMember]);
      });

      it('findTargets by installation', async () => {
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

        expect(ids(await db.devices.findTargets({ installationId }))).toEqual(ids([mobile, extension]));
        expect(await db.devices.findTargets({ installationId, deviceTypes: [CHROME_EXTENSION] })).toEqual([
          extension,
        ]);
      });

      it('addOrganization and removeOrganization change memberships and count the devices changed', async () => {
        const organizationId = randomUUID();
        const first = await db.devices.register(registration());
        const second = await db.devices.register(registration());

        expect(
          await db.devices.addOrganization(
            [first.id, second.id.toUpperCase(), randomUUID(), first.id],
            organizationId.toUpperCase(),
          ),
        ).toBe(2);
        expect(await db.devices.addOrganization([first.id], organizationId)).toBe(0);
        expect(await db.devices.addOrganization([], organizationId)).toBe(0);
        expect((await db.devices.findById(first.id))?.organizationIds).toEqual([organizationId]);
        expect(ids(await db.devices.findTargets({ organizationId }))).toEqual(ids([first, second]));

        expect(await db.devices.removeOrganization([first.id, randomUUID()], organizationId)).toBe(1);
        expect(await db.devices.removeOrganization([first.id], organizationId)).toBe(0);
        expect((await db.devices.findById(first.id))?.organizationIds).toEqual([]);
        expect(ids(await db.devices.findTargets({ organizationId }))).toEqual([second.id]);
      });

      it('clearPushRegistration keeps the device but takes it out of the targets', async () => {
        const organizationId = randomUUID();
        const device = await db.devices.register(registration({ organizationIds: [organizationId] }));
        await db.devices.recordFailure(device.id);

        await db.devices.clearPushRegistration(device.id);

        expect(await db.devices.findById(device.id)).toMatchObject({
          provider: null,
          pushToken: null,
          webPush: null,
          failureCount: 0,
          organizationIds: [organizationId],
        });
        expect(await db.devices.findTargets({ userId: device.userId })).toEqual([]);
        expect(await db.devices.findTargets({ organizationId })).toEqual([]);
        await expect(db.devices.clearPushRegistration(randomUUID())).resolves.toBeUndefined();
      });

      it('recordFailure counts up atomically and resetFailures starts over', async () => {
        const device = await db.devices.register(registration());

        expect(await db.devices.recordFailure(device.id)).toBe(1);
        expect(await db.devices.recordFailure(device.id)).toBe(2);
        const counts = await Promise.all(
          Array.from({ length: 5 }, () => db.devices.recordFailure(device.id)),
        );
        expect([...counts].sort()).toEqual([3, 4, 5, 6, 7]);
        expect((await db.devices.findById(device.id))?.failureCount).toBe(7);

        await db.devices.resetFailures(device.id);
        expect((await db.devices.findById(device.id))?.failureCount).toBe(0);
        expect(await db.devices.recordFailure(randomUUID())).toBe(0);
      });

      it('remove deletes the device and, cascading, its memberships', async () => {
        const device = await db.devices.register(
          registration({ organizationIds: [randomUUID(), randomUUID()] }),
        );
        expect(await memberships(device.id)).toBe(2);

        expect(await db.devices.remove(device.id.toUpperCase())).toBe(true);
        expect(await db.devices.remove(device.id)).toBe(false);

        expect(await db.devices.findById(device.id)).toBeUndefined();
        expect(await memberships(device.id)).toBe(0);
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
        ['id', 'findById', (d) => d.devices.findById('42')],
        ['identifier', 'findByIdentifier', (d) => d.devices.findByIdentifier(id, '')],
        ['provider', 'updatePushToken: webpush', (d) => d.devices.updatePushToken(id, 'x', 'webpush', 't')],
        ['pushToken', 'updatePushToken: empty token', (d) => d.devices.updatePushToken(id, 'x', 'fcm', '')],
        [
          'subscription.auth',
          'updateWebPush',
          (d) => d.devices.updateWebPush(id, 'x', { ...webPush(), auth: '' }),
        ],
        ['query', 'findTargets: no audience', (d) => d.devices.findTargets({})],
        [
          'query',
          'findTargets: two audiences',
          (d) => d.devices.findTargets({ userId: id, organizationId: id }),
        ],
        [
          'deviceTypes[0]',
          'findTargets: bad type',
          (d) => d.devices.findTargets({ userId: id, deviceTypes: [99] }),
        ],
        ['deviceIds[0]', 'addOrganization: device id', (d) => d.devices.addOrganization(['x'], id)],
        ['organizationId', 'removeOrganization: org id', (d) => d.devices.removeOrganization([id], 'x')],
        ['id', 'remove', (d) => d.devices.remove('x')],
        ['id', 'recordFailure', (d) => d.devices.recordFailure('x')],
        ['id', 'installations.verify', (d) => d.installations.verify('x', 'key')],
        ['name', 'secrets.getOrCreate', (d) => d.secrets.getOrCreate('')],
      ])('%s is refused (%s)', async (field, _case, call) => {
        await expectInvalid(() => call(db), field);
      });

      it('happens before the database is touched', async () => {
        const closed = await target.open();
        await closed.close();

        await expectInvalid(() => closed.devices.register(registration({ type: 99 })), 'type');
        await expectInvalid(() => closed.devices.findTargets({ userId: 'x' }), 'userId');
        expect(await closed.ping()).toBe(false);
      });
    });
  });
}

function registration(overrides: Partial<RegisterDevice> = {}): RegisterDevice {
  return {
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
