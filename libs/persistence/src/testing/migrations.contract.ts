import { randomUUID } from 'node:crypto';

import { expect, it } from '@jest/globals';
import { type DataSource } from 'typeorm';

/** A fresh, empty database for one engine, and how to list what its schema holds. */
export interface MigrationsUnderTest {
  /** An initialized data source over an empty database, with the engine's migrations, not run yet. */
  open(): Promise<DataSource>;
  /** Names of every table and index in the database (the engine's own bookkeeping left out). */
  objects(dataSource: DataSource): Promise<string[]>;
}

/**
 * Every migration goes up, then every one comes down again: afterwards the database holds only
 * TypeORM's `migrations` table, empty. Then up again works, so a rollback can be rolled forward.
 */
export function itRoundTripsMigrations(target: MigrationsUnderTest): void {
  it('go up, all the way down to an empty schema, and up again', async () => {
    const dataSource = await target.open();
    try {
      const all = dataSource.migrations.map((migration) => migration.name);
      expect(all.length).toBeGreaterThan(0);
      const applied = async () =>
        (await dataSource.query<{ name: string }[]>('SELECT name FROM migrations')).map((row) => row.name);

      expect((await dataSource.runMigrations({ transaction: 'all' })).map((m) => m.name)).toEqual(all);
      const migrated = await target.objects(dataSource);
      expect(migrated).toEqual(
        expect.arrayContaining(['device', 'device_organization', 'installation', 'secret']),
      );

      for (let index = 0; index < all.length; index += 1) {
        await dataSource.undoLastMigration({ transaction: 'all' });
      }
      expect(await applied()).toEqual([]);
      expect(await target.objects(dataSource)).toEqual(['migrations']);

      expect((await dataSource.runMigrations({ transaction: 'all' })).map((m) => m.name)).toEqual(all);
      expect(await applied()).toEqual(all);
      expect((await target.objects(dataSource)).sort()).toEqual([...migrated].sort());
    } finally {
      await dataSource.destroy();
    }
  });
}

/**
 * The namespaces migration on a registry that already holds devices: the users' own
 * (`installation_id` NULL) and a relay installation's keep their rows and memberships, each in its
 * own namespace; afterwards another namespace can register the same device id; back down, the
 * registry is what it was.
 */
export function itMovesRegistrationsIntoNamespaces(target: MigrationsUnderTest): void {
  it('move existing registrations and memberships into their namespaces, and back', async () => {
    const dataSource = await target.open();
    const runner = dataSource.createQueryRunner();
    try {
      const [initial, namespaces] = dataSource.migrations;
      if (initial === undefined || namespaces === undefined) throw new Error('expected two migrations');
      const [own, relayed, installation, organization] = [
        randomUUID(),
        randomUUID(),
        randomUUID(),
        randomUUID(),
      ];
      const insertDevice = (id: string, installationId: string | null) =>
        runner.query(`
          INSERT INTO device (id, user_id, identifier, type, provider, push_token, installation_id,
            failure_count, created_at, updated_at)
          VALUES ('${id}', '${own}', 'phone-${id}', 0, 'fcm', 'token-${id}',
            ${installationId === null ? 'NULL' : `'${installationId}'`}, 2,
            '2026-01-01 00:00:00', '2026-01-01 00:00:00')`);
      const rows = async (sql: string) =>
        ((await runner.query(sql)) as Record<string, unknown>[]).map((row) =>
          Object.values(row).map(String).join(' '),
        );

      await initial.up(runner);
      await insertDevice(own, null);
      await insertDevice(relayed, installation);
      for (const id of [own, relayed]) {
        await runner.query(
          `INSERT INTO device_organization (device_id, organization_id) VALUES ('${id}', '${organization}')`,
        );
      }

      await namespaces.up(runner);

      const nil = '00000000-0000-0000-0000-000000000000';
      // The nil GUID (the users' own namespace) sorts first.
      expect(
        await rows('SELECT namespace, id, push_token, failure_count FROM device ORDER BY namespace'),
      ).toEqual([`${nil} ${own} token-${own} 2`, `${installation} ${relayed} token-${relayed} 2`]);
      expect(
        (await rows('SELECT namespace, device_id, organization_id FROM device_organization')).sort(),
      ).toEqual([`${nil} ${own} ${organization}`, `${installation} ${relayed} ${organization}`].sort());
      // The relay installation's device id, registered by another installation, is a row of its own.
      const other = randomUUID();
      await runner.query(`
        INSERT INTO device (namespace, id, user_id, identifier, type, failure_count, created_at, updated_at)
        VALUES ('${other}', '${relayed}', '${own}', 'phone', 0, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')`);
      await runner.query(`DELETE FROM device WHERE namespace = '${other}'`);
      // Memberships go with their device, in its namespace only.
      await runner.query(`DELETE FROM device WHERE namespace = '${installation}'`);
      expect(await rows('SELECT device_id FROM device_organization')).toEqual([own]);

      await namespaces.down(runner);

      expect(await rows('SELECT id, installation_id FROM device')).toEqual([`${own} null`]);
      expect(await rows('SELECT device_id, organization_id FROM device_organization')).toEqual([
        `${own} ${organization}`,
      ]);
    } finally {
      await runner.release();
      await dataSource.destroy();
    }
  });
}
