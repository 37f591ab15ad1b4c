import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Client } from 'pg';

import { createTestDatabase } from '../test-database';

/**
 * A database of its own holding the Vaultwarden tables the bridge reads (schema.sql beside this
 * file, after Vaultwarden's PostgreSQL migrations), and a connection to it for playing
 * Vaultwarden's writes. `drop` closes the connection and drops the database.
 */
export async function createVaultwardenDatabase(): Promise<{
  url: string;
  sql: Client;
  drop: () => Promise<void>;
}> {
  const database = await createTestDatabase();
  const sql = new Client({ connectionString: database.url });
  await sql.connect();
  await sql.query(readFileSync(join(__dirname, 'schema.sql'), 'utf8'));
  return {
    url: database.url,
    sql,
    drop: async () => {
      await sql.end().catch(() => undefined);
      await database.drop();
    },
  };
}
