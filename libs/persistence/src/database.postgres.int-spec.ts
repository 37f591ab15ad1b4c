import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from 'pg';
import { DataSource } from 'typeorm';

import { ENTITIES } from './entities';
import { openDatabase, PersistenceValidationError } from './index';
import { POSTGRES_MIGRATIONS } from './migrations/postgres';
import { describeDatabaseContract } from './testing/database.contract';
import {
  itMovesRegistrationsIntoNamespaces,
  itRoundTripsMigrations,
  type MigrationsUnderTest,
} from './testing/migrations.contract';

const TEST_DATABASE_URL = `${process.env.HERALD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432'}/test`;

const testSchema = () => `herald_test_${randomBytes(6).toString('hex')}`;

describe('PostgreSQL', () => {
  const schema = testSchema();
  const extraSchemas: string[] = [];
  // Reads what is stored, straight from the test schema.
  const admin = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  const open = (inSchema = schema) =>
    openDatabase({ url: TEST_DATABASE_URL, dataDir: tmpdir(), schema: inSchema });

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    for (const name of [schema, ...extraSchemas])
      await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    await admin.end();
  });

  describeDatabaseContract('postgres', {
    open: () => open(),
    rows: async (sql) => (await admin.query<Record<string, unknown>>(sql)).rows,
  });

  describe('migrations', () => {
    const migrations: MigrationsUnderTest = {
      open: async () => {
        const fresh = testSchema();
        extraSchemas.push(fresh);
        await admin.query(`CREATE SCHEMA "${fresh}"`);
        const dataSource = new DataSource({
          type: 'postgres',
          url: TEST_DATABASE_URL,
          schema: fresh,
          extra: { options: `-c search_path=${fresh}` },
          entities: ENTITIES,
          migrations: POSTGRES_MIGRATIONS,
          synchronize: false,
          logging: false,
        });
        return dataSource.initialize();
      },
      objects: async (dataSource) => {
        const schema = (dataSource.options as { schema: string }).schema;
        const rows = await admin.query<{ name: string }>(
          `SELECT tablename AS name FROM pg_tables WHERE schemaname = $1
           UNION ALL
           SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename <> 'migrations'`,
          [schema],
        );
        return rows.rows.map((row) => row.name).sort();
      },
    };
    itRoundTripsMigrations(migrations);
    itMovesRegistrationsIntoNamespaces(migrations);
  });

  it('replicas starting together on an empty schema migrate it once', async () => {
    const fresh = testSchema();
    extraSchemas.push(fresh);

    const replicas = await Promise.all([open(fresh), open(fresh), open(fresh)]);
    try {
      const migrations = await admin.query(`SELECT name FROM "${fresh}".migrations`);
      expect(migrations.rowCount).toBe(POSTGRES_MIGRATIONS.length);
      expect(await Promise.all(replicas.map((replica) => replica.ping()))).toEqual([true, true, true]);
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });

  it('secrets created concurrently by separate processes agree', async () => {
    const [first, second] = await Promise.all([open(), open()]);
    try {
      const name = `raced-${randomBytes(4).toString('hex')}`;
      const [a, b, c] = await Promise.all([
        first.secrets.getOrCreate(name),
        second.secrets.getOrCreate(name),
        first.secrets.getOrCreate(name),
      ]);
      expect(b).toEqual(a);
      expect(c).toEqual(a);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('refuses a schema name that is not a plain lowercase identifier', async () => {
    await expect(open('Herald-Test')).rejects.toBeInstanceOf(PersistenceValidationError);
    await expect(open('x"; DROP TABLE device; --')).rejects.toMatchObject({ field: 'schema' });
  });
});
