import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Client } from 'pg';
import { chromium } from 'playwright-core';

import {
  createVaultwardenDatabase,
  eventually,
  HubClient,
  NatsServerProcess,
  ServiceProcess,
  TestIssuer,
  testNamespace,
  WORKSPACE_ROOT,
} from '@herald/testing';

interface Message {
  Type: number;
  ContextId?: string | null;
  Payload: Record<string, unknown>;
}

const ISSUER = 'https://vw.example|login';

/**
 * One Vaultwarden client (a browser extension) of one user on one gateway, holding a token shaped
 * as Vaultwarden mints it: no organization claims. Counts every notification by `<type>:<id>`
 * (the payload's Id, or its UserId when it has none), so a message received twice shows.
 */
class Device {
  readonly messages: Message[] = [];
  readonly arrivals = new Map<string, number>();
  private client: HubClient | undefined;

  constructor(readonly userId: string) {}

  async connect(issuer: TestIssuer, gateway: ServiceProcess): Promise<this> {
    const token = await issuer.userToken(this.userId, {
      device: randomUUID(),
      devicetype: 'ChromeExtension',
      sstamp: randomUUID(),
      name: 'test',
      email: `${this.userId}@vw.example`,
      email_verified: true,
      premium: true,
    });
    this.client = await HubClient.connect(`${gateway.url}/notifications/hub`, { token });
    this.client.connection.on('ReceiveMessage', (message: Message) => {
      this.messages.push(message);
      const key = `${message.Type}:${String(message.Payload.Id ?? message.Payload.UserId)}`;
      this.arrivals.set(key, (this.arrivals.get(key) ?? 0) + 1);
    });
    return this;
  }

  count(type: number, id: string): number {
    return this.arrivals.get(`${type}:${id}`) ?? 0;
  }

  /** Every notification that mentions `id` anywhere in its payload. */
  about(id: string): Message[] {
    return this.messages.filter((message) => JSON.stringify(message.Payload).includes(id));
  }

  async stop(): Promise<void> {
    await this.client?.stop();
  }
}

/**
 * Vaultwarden on PostgreSQL with several replicas: the bridge captures what Vaultwarden writes
 * and Herald delivers it. The test plays Vaultwarden by making the SQL writes Vaultwarden makes,
 * against its tables (libs/testing/src/vaultwarden/schema.sql) in a database of its own; the bridge, a
 * dispatcher, two gateways and the heartbeat service run as processes on a NATS server of the
 * test's own (it is restarted in one case).
 */
describe('the Vaultwarden bridge', () => {
  const namespace = testNamespace('vwbridge');
  let nats: NatsServerProcess;
  let database: Awaited<ReturnType<typeof createVaultwardenDatabase>> | undefined;
  let sql: Client;
  let issuer: TestIssuer;
  let g1: ServiceProcess;
  let g2: ServiceProcess;
  let dispatcher: ServiceProcess;
  let heartbeat: ServiceProcess;
  let bridge: ServiceProcess;
  let bridgeEnv: Record<string, string>;
  const devices: Device[] = [];

  const orgId = randomUUID();
  const collectionId = randomUUID();
  const owner = randomUUID();
  const member = randomUUID();
  const outsider = randomUUID();
  let ownerOnG1: Device;
  let ownerOnG2: Device;
  let memberOnG2: Device;
  let outsiderOnG1: Device;

  const now = "(now() AT TIME ZONE 'utc')";

  async function insertUser(id: string): Promise<void> {
    await sql.query(
      `INSERT INTO users (uuid, created_at, updated_at, email, name, password_hash, salt,
         password_iterations, akey, security_stamp)
       VALUES ($1, ${now}, ${now}, $2, 'user', '\\x00', '\\x00', 600000, '2.key', $3)`,
      [id, `${id}@vw.example`, randomUUID()],
    );
  }

  async function insertCipher(id: string, owner: { user?: string; org?: string }): Promise<void> {
    await sql.query(
      `INSERT INTO ciphers (uuid, created_at, updated_at, user_uuid, organization_uuid, atype, name, data)
       VALUES ($1, ${now}, ${now}, $2, $3, 1, '2.name', '{}')`,
      [id, owner.user ?? null, owner.org ?? null],
    );
  }

  /** A folder for `userId`: also the marker that proves earlier changes were all delivered. */
  async function insertFolder(userId: string, id = randomUUID()): Promise<string> {
    await sql.query(
      `INSERT INTO folders (uuid, created_at, updated_at, user_uuid, name) VALUES ($1, ${now}, ${now}, $2, '2.f')`,
      [id, userId],
    );
    return id;
  }

  async function connect(userId: string, gateway: ServiceProcess): Promise<Device> {
    const device = await new Device(userId).connect(issuer, gateway);
    devices.push(device);
    return device;
  }

  function startBridge(): Promise<ServiceProcess> {
    return ServiceProcess.start('vaultwarden-bridge', bridgeEnv);
  }

  beforeAll(async () => {
    nats = await NatsServerProcess.launch();
    database = await createVaultwardenDatabase();
    sql = database.sql;
    issuer = await TestIssuer.create(ISSUER);
    const env = { HERALD_NATS_URL: nats.url, HERALD_NAMESPACE: namespace };
    const gatewayEnv = { ...env, HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem, HERALD_JWT_ISSUER: ISSUER };
    bridgeEnv = { ...env, HERALD_VAULTWARDEN_DATABASE_URL: database.url };
    [dispatcher, g1, g2, heartbeat, bridge] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('gateway', { ...gatewayEnv, HERALD_GATEWAY_ID: 'vw-g1' }),
      ServiceProcess.start('gateway', { ...gatewayEnv, HERALD_GATEWAY_ID: 'vw-g2' }),
      ServiceProcess.start('heartbeat', env),
      ServiceProcess.start('vaultwarden-bridge', bridgeEnv),
    ]);

    // An organization with one collection: the owner (type 0) sees everything, the member
    // (type 2) has the collection, the outsider (type 2) is in the organization without it.
    for (const user of [owner, member, outsider]) await insertUser(user);
    await sql.query(
      `INSERT INTO organizations (uuid, name, billing_email) VALUES ($1, 'org', 'b@vw.example')`,
      [orgId],
    );
    await sql.query(
      `INSERT INTO users_organizations (uuid, user_uuid, org_uuid, access_all, akey, status, atype)
       VALUES ($1, $2, $5, false, 'k', 2, 0), ($3, $4, $5, false, 'k', 2, 2), ($6, $7, $5, false, 'k', 2, 2)`,
      [randomUUID(), owner, randomUUID(), member, orgId, randomUUID(), outsider],
    );
    await sql.query(`INSERT INTO collections (uuid, org_uuid, name) VALUES ($1, $2, '2.c')`, [
      collectionId,
      orgId,
    ]);
    await sql.query(`INSERT INTO users_collections (user_uuid, collection_uuid) VALUES ($1, $2)`, [
      member,
      collectionId,
    ]);

    [ownerOnG1, ownerOnG2, memberOnG2, outsiderOnG1] = await Promise.all([
      connect(owner, g1),
      connect(owner, g2),
      connect(member, g2),
      connect(outsider, g1),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.stop()));
    if (nats && !nats.running) await nats.start();
    const codes = await Promise.all(
      [bridge, heartbeat, g1, g2, dispatcher].map((service) => service?.stop()),
    );
    await database?.drop();
    await nats?.cleanup();
    // Every service, the bridge included, stops cleanly on SIGTERM.
    expect(codes).toEqual([0, 0, 0, 0, 0]);
  }, 60_000);

  it('installs its queue and triggers, and reports itself ready, working and on the dashboard', async () => {
    const triggers = await sql.query<{ table: string }>(
      `SELECT c.relname AS table FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE t.tgname = 'herald_bridge_capture' ORDER BY 1`,
    );
    expect(triggers.rows.map((row) => row.table)).toEqual([
      'attachments',
      'auth_requests',
      'ciphers',
      'ciphers_collections',
      'favorites',
      'folders',
      'folders_ciphers',
      'sends',
      'users',
    ]);
    expect((await fetch(`${bridge.url}/health/ready`)).status).toBe(200);
    await eventually(async () => expect(await bridge.metric('herald_vaultwarden_leader')).toBe(1));
    await eventually(async () => {
      const info = (await (await fetch(`${heartbeat.url}/info`)).json()) as {
        bridges?: { source: string; leader: boolean }[];
      };
      expect(info.bridges).toEqual([expect.objectContaining({ source: 'vaultwarden', leader: true })]);
    });
  });

  it("shows on the heartbeat dashboard's page as a working event source", async () => {
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      await page.goto(`${heartbeat.url}/`);
      const row = page.getByTestId('bridge-row');
      await eventually(async () => expect(await row.count()).toBe(1), { timeoutMs: 20_000, intervalMs: 250 });
      const cells = await row.locator('td').allTextContents();
      expect(cells.slice(1, 3)).toEqual(['vaultwarden', 'working']);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 45_000);

  it('sends a personal cipher create, update, soft delete and hard delete to both devices of its user, once each', async () => {
    const cipher = randomUUID();
    await insertCipher(cipher, { user: owner });
    await eventually(() => expect([ownerOnG1.count(1, cipher), ownerOnG2.count(1, cipher)]).toEqual([1, 1]));
    await sql.query(`UPDATE ciphers SET name = '2.renamed', updated_at = ${now} WHERE uuid = $1`, [cipher]);
    await sql.query(`UPDATE ciphers SET deleted_at = ${now}, updated_at = ${now} WHERE uuid = $1`, [cipher]);
    await eventually(() => expect([ownerOnG1.count(0, cipher), ownerOnG2.count(0, cipher)]).toEqual([2, 2]));
    await sql.query(`DELETE FROM ciphers WHERE uuid = $1`, [cipher]);
    await eventually(() => expect([ownerOnG1.count(2, cipher), ownerOnG2.count(2, cipher)]).toEqual([1, 1]));

    const create = ownerOnG1.about(cipher)[0]!;
    expect(create).toMatchObject({ Type: 1, ContextId: null });
    expect(create.Payload).toMatchObject({ Id: cipher, UserId: owner, OrganizationId: null });
    expect(Number.isNaN(new Date(create.Payload.RevisionDate as string).getTime())).toBe(false);
    // Written once to the shared database, each change reached each device exactly once, in order.
    expect(ownerOnG2.about(cipher).map((message) => message.Type)).toEqual([1, 0, 0, 2]);
    expect(ownerOnG1.about(cipher).map((message) => message.Type)).toEqual([1, 0, 0, 2]);
  });

  it('sends an organization cipher to the owner and the member with access, not to the other member', async () => {
    const cipher = randomUUID();
    // Vaultwarden saves the cipher, then its collections.
    await insertCipher(cipher, { org: orgId });
    await sql.query(`INSERT INTO ciphers_collections (cipher_uuid, collection_uuid) VALUES ($1, $2)`, [
      cipher,
      collectionId,
    ]);
    await eventually(() => {
      expect(ownerOnG1.count(1, cipher)).toBe(1);
      expect(memberOnG2.count(0, cipher)).toBe(1);
    });
    // The marker is written after: once it reached the outsider, the cipher would have too.
    const marker = await insertFolder(outsider);
    await eventually(() => expect(outsiderOnG1.count(7, marker)).toBe(1));
    expect(outsiderOnG1.about(cipher)).toEqual([]);
    expect(outsiderOnG1.messages.map((message) => message.Payload.Id)).toEqual([marker]);

    // Payload as Vaultwarden sends it for an organization item: UserId null, OrganizationId set;
    // the collection change (the member's way in) names the cipher's collections.
    expect(ownerOnG1.about(cipher)[0]!.Payload).toMatchObject({
      Id: cipher,
      UserId: null,
      OrganizationId: orgId,
    });
    expect(memberOnG2.about(cipher).find((message) => message.Type === 0)!.Payload).toMatchObject({
      Id: cipher,
      UserId: null,
      OrganizationId: orgId,
      CollectionIds: [collectionId],
    });
  });

  it('sends folder create and delete, and a send', async () => {
    const folder = await insertFolder(member);
    await eventually(() => expect(memberOnG2.count(7, folder)).toBe(1));
    expect(memberOnG2.about(folder)[0]!.Payload).toMatchObject({ Id: folder, UserId: member });
    await sql.query(`DELETE FROM folders WHERE uuid = $1`, [folder]);
    await eventually(() => expect(memberOnG2.count(3, folder)).toBe(1));

    const send = randomUUID();
    await sql.query(
      `INSERT INTO sends (uuid, user_uuid, name, atype, data, akey, access_count, creation_date,
         revision_date, deletion_date, disabled)
       VALUES ($1, $2, '2.s', 0, '{}', '2.k', 0, ${now}, ${now}, ${now} + interval '7 days', false)`,
      [send, member],
    );
    await eventually(() => expect(memberOnG2.count(12, send)).toBe(1));
    expect(memberOnG2.about(send)[0]!.Payload).toMatchObject({ Id: send, UserId: member });
  });

  it('sends an auth request to its user and the approval to the anonymous hub waiting on it', async () => {
    const request = randomUUID();
    await sql.query(
      `INSERT INTO auth_requests (uuid, user_uuid, request_device_identifier, device_type, request_ip,
         access_code, public_key, creation_date)
       VALUES ($1, $2, $3, 9, '127.0.0.1', 'code', 'key', ${now})`,
      [request, owner, randomUUID()],
    );
    await eventually(() =>
      expect([ownerOnG1.count(15, request), ownerOnG2.count(15, request)]).toEqual([1, 1]),
    );
    expect(ownerOnG1.about(request)[0]!.Payload).toMatchObject({ Id: request, UserId: owner });

    // The device that asked waits on the anonymous hub with the request id (on the other gateway).
    const waiting = await HubClient.connect(`${g2.url}/notifications/anonymous-hub?Token=${request}`);
    try {
      await sql.query(
        `UPDATE auth_requests SET approved = true, enc_key = '2.k', response_date = ${now} WHERE uuid = $1`,
        [request],
      );
      const approval = await waiting.next(
        (invocation) => invocation.target === 'AuthRequestResponseRecieved',
      );
      expect(approval.args[0]).toMatchObject({ Type: 16, Payload: { Id: request, UserId: owner } });
    } finally {
      await waiting.stop();
    }
  });

  it('logs a user out when the security stamp changes, not on other user updates', async () => {
    const user = randomUUID();
    await insertUser(user);
    const device = await connect(user, g1);
    await sql.query(`UPDATE users SET name = 'renamed', updated_at = ${now} WHERE uuid = $1`, [user]);
    await sql.query(`UPDATE users SET security_stamp = $2, updated_at = ${now} WHERE uuid = $1`, [
      user,
      randomUUID(),
    ]);
    await eventually(() => expect(device.count(11, user)).toBe(1));
    expect(device.messages.map((message) => message.Type)).toEqual([11]);
  });

  it('publishes a change committed while the bridge was stopped once it is back', async () => {
    expect(await bridge.stop()).toBe(0);
    const folder = await insertFolder(member);
    const waiting = await sql.query<{ count: string }>(`SELECT count(*) FROM herald_bridge.changes`);
    expect(Number(waiting.rows[0]!.count)).toBe(1);
    bridge = await startBridge();
    await eventually(() => expect(memberOnG2.count(7, folder)).toBe(1));
    const left = await sql.query<{ count: string }>(`SELECT count(*) FROM herald_bridge.changes`);
    expect(Number(left.rows[0]!.count)).toBe(0);
  });

  it('loses nothing across a NATS restart', async () => {
    await nats.stop();
    const during = await insertFolder(owner);
    // While NATS is away the change waits in the queue.
    await eventually(
      async () => expect(await bridge.metric('herald_vaultwarden_batch_errors_total')).toBeGreaterThan(0),
      {
        timeoutMs: 20_000,
      },
    );
    const waiting = await sql.query<{ count: string }>(`SELECT count(*) FROM herald_bridge.changes`);
    expect(Number(waiting.rows[0]!.count)).toBe(1);
    await nats.start();
    const after = await insertFolder(owner);
    await eventually(
      () => {
        expect([ownerOnG1.count(7, during), ownerOnG2.count(7, during)]).toEqual([1, 1]);
        expect([ownerOnG1.count(7, after), ownerOnG2.count(7, after)]).toEqual([1, 1]);
      },
      { timeoutMs: 30_000 },
    );
  }, 90_000);
});

/** `npm start` with HERALD_VAULTWARDEN_DATABASE_URL: the bridge runs inside the single process. */
describe('the Vaultwarden bridge in the single process', () => {
  let database: Awaited<ReturnType<typeof createVaultwardenDatabase>> | undefined;
  let standalone: ServiceProcess | undefined;
  let device: Device | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-vw-solo-'));

  afterAll(async () => {
    await device?.stop();
    const code = await standalone?.stop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  }, 60_000);

  it('publishes Vaultwarden changes with the in-memory broker', async () => {
    database = await createVaultwardenDatabase();
    const issuer = await TestIssuer.create(ISSUER);
    standalone = await ServiceProcess.start('standalone', {
      HERALD_VAULTWARDEN_DATABASE_URL: database.url,
      HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
      HERALD_JWT_ISSUER: ISSUER,
      HERALD_DATA_DIR: dataDir,
    });
    const user = randomUUID();
    await database.sql.query(
      `INSERT INTO users (uuid, created_at, updated_at, email, name, password_hash, salt,
         password_iterations, akey, security_stamp)
       VALUES ($1, now(), now(), $2, 'u', '\\x00', '\\x00', 1, 'k', 's')`,
      [user, `${user}@vw.example`],
    );
    device = await new Device(user).connect(issuer, standalone);
    const folder = randomUUID();
    await database.sql.query(
      `INSERT INTO folders (uuid, created_at, updated_at, user_uuid, name) VALUES ($1, now(), now(), $2, 'f')`,
      [folder, user],
    );
    await eventually(() => expect(device!.count(7, folder)).toBe(1));
    expect(await standalone.metric('herald_vaultwarden_leader')).toBe(1);
  });
});

/** The operator's commands, as the built `herald` CLI runs them against a Vaultwarden database. */
describe('herald vaultwarden install and uninstall', () => {
  let database: Awaited<ReturnType<typeof createVaultwardenDatabase>> | undefined;

  afterAll(async () => {
    await database?.drop();
  });

  function herald(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('HERALD_')),
    );
    return spawnSync(
      process.execPath,
      [join(WORKSPACE_ROOT, 'dist', 'cli', 'apps', 'cli', 'src', 'main.js'), ...args],
      {
        env: inherited,
        encoding: 'utf8',
      },
    );
  }

  it('installs the queue and triggers (twice over: idempotent), prints the SQL, and removes it all', async () => {
    database = await createVaultwardenDatabase();
    const { sql, url } = database;
    const triggers = async () =>
      Number(
        (
          await sql.query<{ count: string }>(
            `SELECT count(*) FROM pg_trigger WHERE tgname = 'herald_bridge_capture'`,
          )
        ).rows[0]!.count,
      );
    for (let run = 0; run < 2; run += 1) {
      const install = herald('vaultwarden', 'install', '--database-url', url);
      expect({ status: install.status, stderr: install.stderr }).toEqual({ status: 0, stderr: '' });
    }
    expect(await triggers()).toBe(9);
    const folder = randomUUID();
    const user = randomUUID();
    await sql.query(
      `INSERT INTO users (uuid, created_at, updated_at, email, name, password_hash, salt,
         password_iterations, akey, security_stamp)
       VALUES ($1, now(), now(), $2, 'u', '\\x00', '\\x00', 1, 'k', 's')`,
      [user, `${user}@vw.example`],
    );
    await sql.query(
      `INSERT INTO folders (uuid, created_at, updated_at, user_uuid, name) VALUES ($1, now(), now(), $2, 'f')`,
      [folder, user],
    );
    const queued = await sql.query<{ fields: { uuid: string } }>(`SELECT fields FROM herald_bridge.changes`);
    expect(queued.rows.map((row) => row.fields.uuid)).toEqual([folder]);

    const printed = herald('vaultwarden', 'install', '--print');
    expect(printed.status).toBe(0);
    expect(printed.stdout).toContain('CREATE OR REPLACE FUNCTION herald_bridge.capture()');

    const uninstall = herald('vaultwarden', 'uninstall', '--database-url', url);
    expect(uninstall.status).toBe(0);
    expect(await triggers()).toBe(0);
    const schema = await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'herald_bridge'`);
    expect(schema.rows).toEqual([]);
    // Vaultwarden's writes go on as before.
    await sql.query(`DELETE FROM folders WHERE uuid = $1`, [folder]);
  });
});
