import { mkdir, open, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { Client } from 'pg';
import { DataSource } from 'typeorm';

import { ENTITIES } from './entities';
import { POSTGRES_MIGRATIONS } from './migrations/postgres';
import { SQLITE_MIGRATIONS } from './migrations/sqlite';
import { PersistenceValidationError } from './persistence-validation.error';
import { type Database, type OpenDatabaseOptions } from './persistence.ports';
import { TypeormDeviceRepository } from './repositories/typeorm-device.repository';
import { TypeormInstallationRepository } from './repositories/typeorm-installation.repository';
import { TypeormSecretRepository } from './repositories/typeorm-secret.repository';
import { PooledUnitOfWork, SerialUnitOfWork, type UnitOfWork } from './repositories/unit-of-work';

/** The SQLite file inside `dataDir`. */
export const SQLITE_FILE_NAME = 'herald.sqlite';

/** Unquoted PostgreSQL identifier: it goes into `search_path` and `CREATE SCHEMA` as is. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** Opens the database and runs the committed migrations (never `synchronize`). */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (typeof options !== 'object' || options === null) {
    throw new PersistenceValidationError('options', 'must be the database options');
  }
  if (options.url === undefined || options.url === '') {
    if (typeof options.dataDir !== 'string' || options.dataDir === '') {
      throw new PersistenceValidationError('dataDir', 'must be a directory path');
    }
    return openSqlite(options.dataDir);
  }
  if (typeof options.url !== 'string' || !POSTGRES_URL.test(options.url)) {
    throw new PersistenceValidationError('url', 'must be a postgres:// or postgresql:// URL');
  }
  const schema = options.schema ?? 'public';
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new PersistenceValidationError('schema', 'must be a lowercase identifier ([a-z_][a-z0-9_]*)');
  }
  return openPostgres(options.url, schema);
}

async function openPostgres(url: string, schema: string): Promise<Database> {
  // A side connection holds an advisory lock (per schema) while the pool connects and migrates,
  // so replicas that start together migrate one after the other instead of colliding.
  const lockHolder = new Client({ connectionString: url, application_name: 'herald-migrations' });
  await lockHolder.connect();
  try {
    await lockHolder.query('SELECT pg_advisory_lock(hashtext($1))', [`herald-migrations:${schema}`]);
    // Look first: CREATE SCHEMA IF NOT EXISTS still demands the CREATE privilege (e.g. on public).
    const existing = await lockHolder.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (existing.rowCount === 0) await lockHolder.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const dataSource = new DataSource({
      type: 'postgres',
      url,
      schema,
      applicationName: 'herald',
      connectTimeoutMS: 10_000,
      // The migrations' SQL is unqualified; every pooled connection resolves it in `schema`.
      extra: { options: `-c search_path=${schema}` },
      entities: ENTITIES,
      migrations: POSTGRES_MIGRATIONS,
      migrationsRun: true,
      migrationsTransactionMode: 'all',
      synchronize: false,
      logging: false,
    });
    await initialize(dataSource);
    return new TypeormDatabase('postgres', new PooledUnitOfWork(dataSource));
  } finally {
    await lockHolder.end(); // also releases the advisory lock
  }
}

async function openSqlite(dataDir: string): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  const file = join(resolve(dataDir), SQLITE_FILE_NAME);
  const dataSource = new DataSource({
    type: 'sqljs',
    // sql.js keeps the database in memory: TypeORM reads `location` with fs when it opens, and
    // after every committed change autoSave exports the whole database through the callback.
    location: file,
    autoSave: true,
    autoSaveCallback: (data: Uint8Array) => saveAtomically(file, data),
    entities: ENTITIES,
    migrations: SQLITE_MIGRATIONS,
    migrationsRun: true,
    migrationsTransactionMode: 'all',
    synchronize: false,
    logging: false,
  });
  await initialize(dataSource);
  return new TypeormDatabase('sqlite', new SerialUnitOfWork(dataSource));
}

async function initialize(dataSource: DataSource): Promise<void> {
  try {
    await dataSource.initialize();
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    throw error;
  }
}

/**
 * Writes the exported database next to the file, flushes it and renames it over the file: a
 * crash leaves the previous or the new database, never a torn one.
 */
async function saveAtomically(file: string, data: Uint8Array): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}

class TypeormDatabase implements Database {
  readonly devices: TypeormDeviceRepository;
  readonly installations: TypeormInstallationRepository;
  readonly secrets: TypeormSecretRepository;
  private closing: Promise<void> | undefined;

  constructor(
    readonly kind: 'postgres' | 'sqlite',
    private readonly unit: UnitOfWork,
  ) {
    this.devices = new TypeormDeviceRepository(unit);
    this.installations = new TypeormInstallationRepository(unit);
    this.secrets = new TypeormSecretRepository(unit);
  }

  async ping(): Promise<boolean> {
    if (this.closing !== undefined) return false;
    try {
      await this.unit.run((manager) => manager.query('SELECT 1'));
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.closing ??= this.unit.close();
    return this.closing;
  }
}
