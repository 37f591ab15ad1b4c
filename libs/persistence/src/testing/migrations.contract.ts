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
