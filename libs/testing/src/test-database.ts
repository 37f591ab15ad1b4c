import { randomUUID } from 'node:crypto';

import { Client } from 'pg';

/** The PostgreSQL server the tests use (this machine's, trust auth). */
export const TEST_POSTGRES = process.env['HERALD_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';

/** A database of its own for one test's services, dropped (connections and all) by `drop`. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `herald_e2e_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new Client({ connectionString: `${TEST_POSTGRES}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: `${TEST_POSTGRES}/${name}`,
    drop: async () => {
      const client = new Client({ connectionString: `${TEST_POSTGRES}/postgres` });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
