import { randomUUID } from 'node:crypto';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { type Client } from 'pg';

import { type AnyHeraldEvent, eventCodec, PushType } from '@herald/contracts';
import { EVENT_CONSUMER, type EventConsumer } from '@herald/messaging';
import { createLogger } from '@herald/platform';
import { createVaultwardenDatabase, eventually, listenOnLoopback, type TestApp } from '@herald/testing';

import { ChangeQueueConsumer } from './consumers/change-queue.consumer';
import { VaultwardenDatabase } from './repositories/vaultwarden-database.repository';
import { installSql } from './sql/bridge-sql';
import { VaultwardenBridgeModule } from './vaultwarden-bridge.module';

const logger = createLogger('vaultwarden-bridge', 'silent', 'json');
const now = "(now() AT TIME ZONE 'utc')";

/** One bridge in this process on an in-memory broker, and every event it appended. */
interface Bridge {
  app: TestApp;
  events: AnyHeraldEvent[];
  leader(): boolean;
}

/**
 * The bridge against this machine's PostgreSQL, on a database of its own with Vaultwarden's
 * tables: who receives organization changes (Vaultwarden's access rules, at the time of the
 * change), what happens when Vaultwarden's schema moves under the triggers, and several bridges.
 */
describe('VaultwardenBridgeModule', () => {
  let database: Awaited<ReturnType<typeof createVaultwardenDatabase>>;
  let sql: Client;
  const running: Bridge[] = [];

  const org = randomUUID();
  const collection = randomUUID();
  const users = {
    owner: randomUUID(),
    admin: randomUUID(),
    accessAll: randomUUID(),
    direct: randomUUID(),
    viaGroup: randomUUID(),
    viaAllGroup: randomUUID(),
    none: randomUUID(),
    personal: randomUUID(),
  };

  async function startBridge(): Promise<Bridge> {
    const app = await listenOnLoopback(
      VaultwardenBridgeModule.forRoot({
        databaseUrl: database.url,
        logger,
        messaging: { engine: 'memory', namespace: 'vw' },
        timings: { pollMs: 100, leaderRetryMs: 100, triggerCheckMs: 200 },
      }),
    );
    const events: AnyHeraldEvent[] = [];
    await app.app
      .get<EventConsumer>(EVENT_CONSUMER)
      .start({ maxDeliver: 1, ackWaitMs: 5000, batch: 100 }, (message) => {
        events.push(eventCodec.decode(message.data));
        return Promise.resolve({ kind: 'ack' });
      });
    const queue = app.app.get(ChangeQueueConsumer);
    const bridge = { app, events, leader: () => queue.state.leader };
    running.push(bridge);
    return bridge;
  }

  async function stopBridge(bridge: Bridge): Promise<void> {
    running.splice(running.indexOf(bridge), 1);
    await bridge.app.close();
  }

  async function insertCipher(id: string, owner: { user?: string; org?: string }): Promise<void> {
    await sql.query(
      `INSERT INTO ciphers (uuid, created_at, updated_at, user_uuid, organization_uuid, atype, name, data)
       VALUES ($1, ${now}, ${now}, $2, $3, 1, '2.n', '{}')`,
      [id, owner.user ?? null, owner.org ?? null],
    );
  }

  async function insertFolder(userId: string): Promise<string> {
    const id = randomUUID();
    await sql.query(
      `INSERT INTO folders (uuid, created_at, updated_at, user_uuid, name) VALUES ($1, ${now}, ${now}, $2, 'f')`,
      [id, userId],
    );
    return id;
  }

  /**
   * The events that mention `id`, in queue order (by change id: the in-memory consumer may hand
   * out events appended before and after it started in another order; the e2e checks the order
   * clients see over NATS).
   */
  function about(bridge: Bridge, id: string): AnyHeraldEvent[] {
    // Ids are vw-<12-character installation>-<change id>[-…].
    const change = (event: AnyHeraldEvent) => Number(/^vw-\w{12}-(\d+)/.exec(event.id)?.[1]);
    return bridge.events
      .filter((event) => JSON.stringify(event.payload).includes(id))
      .sort((left, right) => change(left) - change(right));
  }

  beforeAll(async () => {
    database = await createVaultwardenDatabase();
    sql = database.sql;
    for (const user of Object.values(users)) {
      await sql.query(
        `INSERT INTO users (uuid, created_at, updated_at, email, name, password_hash, salt,
           password_iterations, akey, security_stamp)
         VALUES ($1, ${now}, ${now}, $2, 'u', '\\x00', '\\x00', 1, 'k', 's')`,
        [user, `${user}@vw.example`],
      );
    }
    await sql.query(`INSERT INTO organizations VALUES ($1, 'org', 'b@vw.example')`, [org]);
    await sql.query(`INSERT INTO collections VALUES ($1, $2, 'c')`, [collection, org]);
    const members: [string, boolean, number][] = [
      [users.owner, false, 0],
      [users.admin, false, 1],
      [users.accessAll, true, 2],
      [users.direct, false, 2],
      [users.viaGroup, false, 2],
      [users.viaAllGroup, false, 3],
      [users.none, false, 3],
    ];
    const membership = new Map<string, string>();
    for (const [user, accessAll, type] of members) {
      const id = randomUUID();
      membership.set(user, id);
      await sql.query(
        `INSERT INTO users_organizations (uuid, user_uuid, org_uuid, access_all, akey, status, atype)
         VALUES ($1, $2, $3, $4, 'k', 2, $5)`,
        [id, user, org, accessAll, type],
      );
    }
    await sql.query(`INSERT INTO users_collections (user_uuid, collection_uuid) VALUES ($1, $2)`, [
      users.direct,
      collection,
    ]);
    const group = randomUUID();
    const allGroup = randomUUID();
    await sql.query(
      `INSERT INTO groups (uuid, organizations_uuid, name, access_all, creation_date, revision_date)
       VALUES ($1, $3, 'g', false, ${now}, ${now}), ($2, $3, 'all', true, ${now}, ${now})`,
      [group, allGroup, org],
    );
    await sql.query(
      `INSERT INTO groups_users (groups_uuid, users_organizations_uuid) VALUES ($1, $2), ($3, $4)`,
      [group, membership.get(users.viaGroup), allGroup, membership.get(users.viaAllGroup)],
    );
    await sql.query(
      `INSERT INTO collections_groups (collections_uuid, groups_uuid, read_only, hide_passwords)
       VALUES ($1, $2, false, false)`,
      [collection, group],
    );
  });

  afterEach(async () => {
    await Promise.all([...running].map((bridge) => stopBridge(bridge)));
  });

  afterAll(async () => {
    await database?.drop();
  });

  it("names as recipients of an organization cipher exactly who may see it by Vaultwarden's rules", async () => {
    const bridge = await startBridge();
    const cipher = randomUUID();
    await insertCipher(cipher, { org });
    await sql.query(`INSERT INTO ciphers_collections VALUES ($1, $2)`, [cipher, collection]);
    await eventually(() => expect(about(bridge, cipher)).toHaveLength(2));
    const [created, collected] = about(bridge, cipher);
    const fullAccess = [users.owner, users.admin, users.accessAll, users.viaAllGroup].sort();
    // Saved before its collection: only those who see every collection may see it yet.
    expect(created).toMatchObject({ type: PushType.SyncCipherCreate, recipients: { users: fullAccess } });
    expect(created!.payload).toMatchObject({ Id: cipher, UserId: null, OrganizationId: org });
    expect(collected).toMatchObject({
      type: PushType.SyncCipherUpdate,
      recipients: { users: [...fullAccess, users.direct, users.viaGroup].sort() },
    });
    expect(collected!.payload).toMatchObject({ CollectionIds: [collection] });
  });

  it('tells those who lose a cipher with its collection, and of a delete those who saw it', async () => {
    const cipher = randomUUID();
    await insertCipher(cipher, { org });
    await sql.query(`INSERT INTO ciphers_collections VALUES ($1, $2)`, [cipher, collection]);
    const bridge = await startBridge();
    await eventually(() => expect(about(bridge, cipher)).toHaveLength(2));

    // Vaultwarden deletes a cipher's collections first, then the cipher: by the time the cipher
    // goes, the collection members no longer have access, yet they hear of the delete (and the
    // collection change before it in the same batch is dropped).
    await sql.query('BEGIN');
    await sql.query(`DELETE FROM ciphers_collections WHERE cipher_uuid = $1`, [cipher]);
    await sql.query(`DELETE FROM ciphers WHERE uuid = $1`, [cipher]);
    await sql.query('COMMIT');
    await eventually(() => expect(about(bridge, cipher)).toHaveLength(3));
    expect(about(bridge, cipher)[2]).toMatchObject({
      type: PushType.SyncLoginDelete,
      recipients: {
        users: [
          users.owner,
          users.admin,
          users.accessAll,
          users.viaAllGroup,
          users.direct,
          users.viaGroup,
        ].sort(),
      },
    });
  });

  it('moves a personal cipher into the organization with its former owner told', async () => {
    const bridge = await startBridge();
    const cipher = randomUUID();
    await insertCipher(cipher, { user: users.personal });
    await sql.query(`UPDATE ciphers SET user_uuid = NULL, organization_uuid = $2 WHERE uuid = $1`, [
      cipher,
      org,
    ]);
    await eventually(() => expect(about(bridge, cipher)).toHaveLength(2));
    expect(about(bridge, cipher)[0]).toMatchObject({
      type: PushType.SyncCipherCreate,
      payload: { UserId: users.personal },
    });
    expect(about(bridge, cipher)[0]!.recipients).toBeUndefined();
    expect(about(bridge, cipher)[1]!.recipients!.users).toContain(users.personal);
  });

  it('tells who sees a cipher of an attachment added to it', async () => {
    const bridge = await startBridge();
    const cipher = randomUUID();
    await insertCipher(cipher, { org });
    await sql.query(
      `INSERT INTO attachments (id, cipher_uuid, file_name, file_size) VALUES ($1, $2, 'f', 1)`,
      [randomUUID(), cipher],
    );
    await eventually(() => expect(about(bridge, cipher)).toHaveLength(2));
    expect(about(bridge, cipher)[1]).toMatchObject({
      type: PushType.SyncCipherUpdate,
      payload: { Id: cipher, UserId: null, OrganizationId: org },
      recipients: { users: [users.owner, users.admin, users.accessAll, users.viaAllGroup].sort() },
    });
  });

  it('turns an import (many cipher changes of one user in one batch) into one SyncVault', async () => {
    const bridge = await startBridge();
    const user = randomUUID();
    await sql.query(
      `INSERT INTO users (uuid, created_at, updated_at, email, name, password_hash, salt,
         password_iterations, akey, security_stamp)
       VALUES ($1, ${now}, ${now}, $2, 'u', '\\x00', '\\x00', 1, 'k', 's')`,
      [user, `${user}@vw.example`],
    );
    await sql.query('BEGIN');
    for (let index = 0; index < 30; index += 1) await insertCipher(randomUUID(), { user });
    await sql.query('COMMIT');
    const marker = await insertFolder(user);
    await eventually(() => expect(about(bridge, marker)).toHaveLength(1));
    const mine = bridge.events.filter((event) => JSON.stringify(event.payload).includes(user));
    expect(mine.map((event) => event.type).sort()).toEqual([PushType.SyncVault, PushType.SyncFolderCreate]);
  });

  it("never fails Vaultwarden's write when its schema moves, and keeps the queue flowing", async () => {
    const bridge = await startBridge();
    // A column the recipient query needs is renamed: the cipher is still saved; its change is
    // captured without recipients, and published to nobody rather than blocking the queue.
    await sql.query(`ALTER TABLE users_organizations RENAME COLUMN atype TO member_type`);
    try {
      const cipher = randomUUID();
      await insertCipher(cipher, { org });
      const folder = await insertFolder(users.personal);
      await eventually(() => expect(about(bridge, folder)).toHaveLength(1));
      expect(about(bridge, cipher)).toEqual([]);
    } finally {
      await sql.query(`ALTER TABLE users_organizations RENAME COLUMN member_type TO atype`);
    }

    // A migration may drop a column the triggers read (here inside a transaction undone after).
    await sql.query('BEGIN');
    try {
      await sql.query(`ALTER TABLE users DROP COLUMN security_stamp`);
      await sql.query(`ALTER TABLE ciphers DROP COLUMN deleted_at`);
      await sql.query(`UPDATE users SET name = 'renamed' WHERE uuid = $1`, [users.personal]);
      await insertCipher(randomUUID(), { user: users.personal });
    } finally {
      await sql.query('ROLLBACK');
    }

    // The queue itself is gone: Vaultwarden's writes still succeed (the change is not captured).
    await sql.query(`ALTER TABLE herald_bridge.changes RENAME TO changes_away`);
    try {
      await expect(insertFolder(users.personal)).resolves.toEqual(expect.any(String));
    } finally {
      await sql.query(`ALTER TABLE herald_bridge.changes_away RENAME TO changes`);
    }
    const after = await insertFolder(users.personal);
    await eventually(() => expect(about(bridge, after)).toHaveLength(1));
  });

  it('puts back a trigger a Vaultwarden migration dropped', async () => {
    const bridge = await startBridge();
    await sql.query(`DROP TRIGGER herald_bridge_capture ON folders`);
    await eventually(async () => {
      const { rows } = await sql.query(
        `SELECT 1 FROM pg_trigger WHERE tgname = 'herald_bridge_capture' AND tgrelid = 'folders'::regclass`,
      );
      expect(rows).toHaveLength(1);
    });
    const folder = await insertFolder(users.personal);
    await eventually(() => expect(about(bridge, folder)).toHaveLength(1));
  });

  it('installs without a table Vaultwarden does not have, and says so', async () => {
    const repository = new VaultwardenDatabase(database.url, logger);
    try {
      await sql.query(`ALTER TABLE favorites RENAME TO favorites_elsewhere`);
      await repository.install();
      expect(await repository.missingTriggers()).toEqual([{ table: 'favorites', exists: false }]);
    } finally {
      await sql.query(`ALTER TABLE favorites_elsewhere RENAME TO favorites`);
      await repository.install();
      await repository.close();
    }
  });

  it('runs as a role that may not install, on what an operator installed (docs/vaultwarden.md grants)', async () => {
    const role = `herald_run_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const databaseName = new URL(database.url).pathname.slice(1);
    // The operator installs as the tables' owner (herald vaultwarden install --print | psql).
    await sql.query(installSql());
    await sql.query(`CREATE ROLE ${role} LOGIN`);
    try {
      for (const grant of [
        `GRANT CONNECT ON DATABASE ${databaseName} TO ${role}`,
        `GRANT USAGE ON SCHEMA herald_bridge TO ${role}`,
        // FOR UPDATE (the batch lock) needs UPDATE.
        `GRANT SELECT, UPDATE, DELETE ON herald_bridge.changes TO ${role}`,
        `GRANT SELECT ON herald_bridge.installation TO ${role}`,
      ])
        await sql.query(grant);
      const url = new URL(database.url);
      url.username = role;
      const app = await listenOnLoopback(
        VaultwardenBridgeModule.forRoot({
          databaseUrl: url.toString(),
          logger,
          messaging: { engine: 'memory', namespace: 'vw' },
          timings: { pollMs: 100, leaderRetryMs: 100, triggerCheckMs: 60_000 },
        }),
      );
      const events: AnyHeraldEvent[] = [];
      try {
        await app.app
          .get<EventConsumer>(EVENT_CONSUMER)
          .start({ maxDeliver: 1, ackWaitMs: 5000, batch: 100 }, (message) => {
            events.push(eventCodec.decode(message.data));
            return Promise.resolve({ kind: 'ack' });
          });
        // Vaultwarden's write (here as the tables' owner) is captured; the run role publishes it.
        const cipher = randomUUID();
        await insertCipher(cipher, { org });
        await sql.query(`INSERT INTO ciphers_collections VALUES ($1, $2)`, [cipher, collection]);
        await eventually(() =>
          expect(events.filter((event) => JSON.stringify(event.payload).includes(cipher))).toHaveLength(2),
        );
      } finally {
        await app.close();
      }
    } finally {
      await sql.query(`DROP OWNED BY ${role}`);
      await sql.query(`DROP ROLE ${role}`);
    }
  });

  it('refuses to start, saying what to run, as a role that may not install where nothing is installed', async () => {
    const bare = await createVaultwardenDatabase();
    const role = `herald_run_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    await bare.sql.query(`CREATE ROLE ${role} LOGIN`);
    try {
      const url = new URL(bare.url);
      url.username = role;
      await expect(
        listenOnLoopback(
          VaultwardenBridgeModule.forRoot({
            databaseUrl: url.toString(),
            logger,
            messaging: { engine: 'memory', namespace: 'vw' },
          }),
        ),
      ).rejects.toThrow(/herald vaultwarden install --print \| psql/);
    } finally {
      await bare.drop();
      await sql.query(`DROP ROLE ${role}`);
    }
  });

  it('lets one bridge of several work, and another take over when it stops', async () => {
    const first = await startBridge();
    await eventually(() => expect(first.leader()).toBe(true));
    const second = await startBridge();
    const folder = await insertFolder(users.personal);
    await eventually(() => expect(about(first, folder)).toHaveLength(1));
    expect(second.leader()).toBe(false);
    expect(about(second, folder)).toEqual([]);

    await stopBridge(first);
    const next = await insertFolder(users.personal);
    await eventually(() => expect(about(second, next)).toHaveLength(1));
    expect(second.leader()).toBe(true);
  });
});
