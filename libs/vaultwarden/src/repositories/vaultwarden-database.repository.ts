import { Client, type Notification, Pool, type PoolClient } from 'pg';
import { type Logger } from 'pino';

import { type CapturedChange } from '../services/change-events';
import {
  BRIDGE_SCHEMA,
  CAPTURED_TABLES,
  installSql,
  LEADER_LOCK_KEY,
  MISSING_TRIGGERS_SQL,
  NOTIFY_CHANNEL,
  uninstallSql,
} from '../sql/bridge-sql';

/** The working bridge's own connection: it holds the leader lock and listens for new changes. */
export interface LeaderSession {
  /** Releases the lock and closes the connection. */
  release(): Promise<void>;
}

export interface PendingChanges {
  count: number;
  /** When the oldest change waiting was captured; null when none waits. */
  oldest: Date | null;
}

interface ChangeRow {
  id: string;
  table_name: string;
  op: CapturedChange['op'];
  fields: Record<string, unknown>;
  recipients: string[] | null;
  created_at: Date;
}

/** SQLSTATE of "permission denied" (and of "must be owner of …"). */
const INSUFFICIENT_PRIVILEGE = '42501';

/** Every side effect on Vaultwarden's database: the install, the queue, the leader lock. */
export class VaultwardenDatabase {
  private readonly pool: Pool;
  /** The last query reached the database (readiness). */
  reachable = false;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {
    // keepAlive: a peer that vanished without a word is noticed; query_timeout: a query that hangs
    // fails the batch (rolled back, retried) instead of stalling the bridge.
    this.pool = new Pool({
      connectionString: url,
      max: 2,
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      query_timeout: 30_000,
    });
    // An idle connection that breaks is dropped by the pool; the next query opens another.
    this.pool.on('error', (error) => {
      this.reachable = false;
      this.logger.warn({ err: error }, 'a connection to the Vaultwarden database broke');
    });
  }

  /**
   * Creates or repairs the schema, functions and triggers (installSql). Throws
   * InstallRefusedError when the role may not, so the caller can say what to do.
   */
  async install(): Promise<void> {
    await this.withClient(async (client) => {
      const notices: string[] = [];
      const onNotice = (notice: { severity?: string; message?: string }) => {
        if (notice.severity === 'WARNING' && notice.message) notices.push(notice.message);
      };
      client.on('notice', onNotice);
      try {
        await client.query(installSql());
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        if ((error as { code?: string }).code === INSUFFICIENT_PRIVILEGE) {
          throw new InstallRefusedError((error as Error).message);
        }
        throw error;
      } finally {
        client.off('notice', onNotice);
      }
      for (const message of notices) this.logger.warn(message);
    });
  }

  async uninstall(): Promise<void> {
    await this.withClient((client) => client.query(uninstallSql()));
  }

  /** True when the queue and the capture function exist (installed by hand, for instance). */
  async installed(): Promise<boolean> {
    const result = await this.query<{ ready: boolean }>(
      `SELECT to_regclass('${BRIDGE_SCHEMA}.changes') IS NOT NULL
          AND to_regprocedure('${BRIDGE_SCHEMA}.capture()') IS NOT NULL AS ready`,
    );
    return result[0]?.ready === true;
  }

  /** Captured tables that lack the trigger, and whether each exists at all. */
  async missingTriggers(): Promise<{ table: string; exists: boolean }[]> {
    const rows = await this.query<{ table_name: string; table_exists: boolean }>(MISSING_TRIGGERS_SQL, [
      CAPTURED_TABLES.map(({ table }) => table),
    ]);
    return rows.map((row) => ({ table: row.table_name, exists: row.table_exists }));
  }

  async installationId(): Promise<string> {
    const rows = await this.query<{ id: string }>(`SELECT id FROM ${BRIDGE_SCHEMA}.installation LIMIT 1`);
    const id = rows[0]?.id;
    if (!id) throw new Error(`${BRIDGE_SCHEMA}.installation is empty: reinstall the bridge`);
    return id;
  }

  async pending(): Promise<PendingChanges> {
    const rows = await this.query<{ count: string; oldest: Date | null }>(
      `SELECT count(*) AS count, min(created_at) AS oldest FROM ${BRIDGE_SCHEMA}.changes`,
    );
    return { count: Number(rows[0]?.count ?? 0), oldest: rows[0]?.oldest ?? null };
  }

  /**
   * Takes up to `limit` changes in queue order, locked (another bridge skips them), hands them
   * to `publish`, and deletes them in the same transaction once it resolves. When `publish`
   * throws, or the connection breaks, nothing is deleted: the changes come back.
   * Organization changes whose recipients the trigger could not resolve are resolved now.
   */
  async takeBatch(limit: number, publish: (changes: CapturedChange[]) => Promise<void>): Promise<number> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<ChangeRow>(
          `SELECT id::text AS id, table_name, op, fields, recipients, created_at
             FROM ${BRIDGE_SCHEMA}.changes ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [limit],
        );
        if (rows.length === 0) {
          await client.query('COMMIT');
          return 0;
        }
        const changes: CapturedChange[] = [];
        for (const row of rows) changes.push(await this.resolve(client, row));
        await publish(changes);
        await client.query(`DELETE FROM ${BRIDGE_SCHEMA}.changes WHERE id = ANY($1::bigint[])`, [
          rows.map((row) => row.id),
        ]);
        await client.query('COMMIT');
        return rows.length;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * Opens the working bridge's connection and tries the leader lock. Resolves with the session
   * when this process got it, undefined when another bridge holds it. `onChange` runs for every
   * notification; `onLost` once, when the connection (and with it the lock) is gone.
   */
  async lead(onChange: () => void, onLost: (error: Error) => void): Promise<LeaderSession | undefined> {
    // keepAlive: a leader whose connection silently died must learn it, as the server will.
    const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 5000, keepAlive: true });
    let released = false;
    const lost = (error: Error) => {
      if (released) return;
      released = true;
      this.reachable = false;
      onLost(error);
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('the connection closed')));
    client.on('notification', (message: Notification) => {
      if (message.channel === NOTIFY_CHANNEL) onChange();
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        LEADER_LOCK_KEY,
      ]);
      this.reachable = true;
      if (rows[0]?.locked !== true) {
        released = true;
        await client.end();
        return undefined;
      }
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch (error) {
      released = true;
      this.reachable = false;
      await client.end().catch(() => undefined);
      throw error;
    }
    return {
      release: async () => {
        if (released) return;
        released = true;
        // Closing the session releases the lock; unlocking first says so at once.
        await client.query('SELECT pg_advisory_unlock($1)', [LEADER_LOCK_KEY]).catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async resolve(client: PoolClient, row: ChangeRow): Promise<CapturedChange> {
    const change: CapturedChange = {
      id: row.id,
      table: row.table_name,
      op: row.op,
      fields: row.fields,
      recipients: row.recipients,
      createdAt: row.created_at,
    };
    const org = row.fields.organization_uuid;
    const cipher = row.fields.uuid ?? row.fields.cipher_uuid;
    const needsRecipients =
      ['ciphers', 'ciphers_collections', 'attachments'].includes(row.table_name) &&
      row.recipients === null &&
      typeof org === 'string' &&
      typeof cipher === 'string';
    if (!needsRecipients) return change;
    // The trigger could not tell (its WARNING is in PostgreSQL's log): who may see it now. In a
    // savepoint, so that a failure leaves the batch's transaction usable.
    await client.query('SAVEPOINT resolve_recipients');
    try {
      const { rows } = await client.query<{ users: string[] | null }>(
        `SELECT ${BRIDGE_SCHEMA}.cipher_recipients($1, $2) AS users`,
        [cipher, org],
      );
      await client.query('RELEASE SAVEPOINT resolve_recipients');
      return { ...change, recipients: rows[0]?.users ?? [] };
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      // Anything but a schema error (a connection lost, a timeout) fails the batch, to be retried.
      if (!code.startsWith('42')) throw error;
      await client.query('ROLLBACK TO SAVEPOINT resolve_recipients');
      // Vaultwarden's schema no longer fits the recipient query: retrying would block the queue
      // for good. The change is published to nobody, loudly.
      this.logger.error(
        { err: error, change: row.id, cipher, organization: org },
        'cannot resolve who may see an organization cipher (has Vaultwarden changed its schema?); change not published',
      );
      return { ...change, recipients: [] };
    }
  }

  private async query<R extends object>(sql: string, parameters: unknown[] = []): Promise<R[]> {
    return this.withClient(async (client) => (await client.query<R>(sql, parameters)).rows);
  }

  private async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.reachable = false;
      throw error;
    }
    let broken: Error | undefined;
    try {
      const result = await work(client);
      this.reachable = true;
      return result;
    } catch (error) {
      // A connection error leaves the client unusable: the pool must not hand it out again.
      if (!(error as { code?: string }).code) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

/** The database role may not install the bridge's schema or triggers. */
export class InstallRefusedError extends Error {
  constructor(reason: string) {
    super(
      `the database role may not install the bridge's triggers (${reason}); ` +
        'have an owner of the Vaultwarden tables run `herald vaultwarden install --print | psql <url>` ' +
        '(docs/vaultwarden.md lists the grants)',
    );
    this.name = 'InstallRefusedError';
  }
}
