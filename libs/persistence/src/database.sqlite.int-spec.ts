import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import initSqlJs from 'sql.js';
import { DataSource } from 'typeorm';

import { ENTITIES } from './entities';
import { openDatabase } from './index';
import { SQLITE_MIGRATIONS } from './migrations/sqlite';
import { describeDatabaseContract } from './testing/database.contract';
import {
  itMovesRegistrationsIntoNamespaces,
  itRoundTripsMigrations,
  type MigrationsUnderTest,
} from './testing/migrations.contract';

describe('SQLite (sql.js)', () => {
  let root: string;
  // A directory that does not exist yet: openDatabase creates it.
  const dataDir = () => join(root, 'nested', 'data');
  const file = () => join(dataDir(), 'herald.sqlite');

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'herald-persistence-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describeDatabaseContract('sqlite', {
    open: () => openDatabase({ dataDir: dataDir() }),
    // Reads the file on disk, so every assertion through it also proves that the change was saved.
    rows: async (sql) => {
      const SQL = await initSqlJs();
      const database = new SQL.Database(await readFile(file()));
      try {
        const [result] = database.exec(sql);
        if (result === undefined) return [];
        return result.values.map((row) =>
          Object.fromEntries(result.columns.map((column, i) => [column, row[i]])),
        );
      } finally {
        database.close();
      }
    },
  });

  describe('migrations', () => {
    const migrations: MigrationsUnderTest = {
      // In memory: a fresh, empty database each time.
      open: () =>
        new DataSource({
          type: 'sqljs',
          entities: ENTITIES,
          migrations: SQLITE_MIGRATIONS,
          synchronize: false,
          logging: false,
        }).initialize(),
      objects: async (dataSource) =>
        (
          await dataSource.query<{ name: string }[]>(
            `SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name`,
          )
        ).map((row) => row.name),
    };
    itRoundTripsMigrations(migrations);
    itMovesRegistrationsIntoNamespaces(migrations);
  });

  it('keeps exactly one file, herald.sqlite, in the data directory', async () => {
    // A directory of its own, opened and changed here: the test depends on no other.
    const own = join(root, 'one-file');
    const database = await openDatabase({ dataDir: own });
    try {
      await database.secrets.getOrCreate('one-file');
    } finally {
      await database.close();
    }
    expect(await readdir(own)).toEqual(['herald.sqlite']);
  });

  it('a different data directory is a different, empty database', async () => {
    const other = await openDatabase({ dataDir: join(root, 'other') });
    try {
      expect(
        await other.devices.findTargets({
          namespaces: [null],
          userId: '00000000-0000-0000-0000-000000000001',
        }),
      ).toEqual([]);
      expect((await other.installations.create()).installation.enabled).toBe(true);
    } finally {
      await other.close();
    }
    expect(await readdir(join(root, 'other'))).toEqual(['herald.sqlite']);
  });
});
