import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { onFreePort } from '@herald/testing';

const run = promisify(execFile);

/** The PostgreSQL server binaries: `HERALD_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/<n>/bin`. */
function binaries(): string {
  const configured = process.env['HERALD_TEST_PG_BIN'];
  if (configured) return configured;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error('no PostgreSQL server binaries: set HERALD_TEST_PG_BIN');
  return join(root, versions[0]!, 'bin');
}

/**
 * A PostgreSQL server of the test's own (initdb in a temporary directory, trust authentication,
 * loopback on a free port), which the test may stop and start again on the same port and data
 * directory: a real restart, where the server terminates every session and refuses connections
 * until it is back, without touching the machine's shared cluster. PostgreSQL refuses to run as
 * root, so as root the binaries run as the `postgres` user.
 */
export class PrivatePostgres {
  private running = false;

  private constructor(
    private readonly bin: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  /** `postgres://` URL of the `postgres` database, for `HERALD_DATABASE_URL`. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get isRunning(): boolean {
    return this.running;
  }

  static async launch(): Promise<PrivatePostgres> {
    const bin = binaries();
    const dir = await mkdtemp(join(tmpdir(), 'herald-pg-'));
    if (userInfo().uid === 0) await chown(dir, ...(await postgresIds()));
    try {
      await asPostgres(join(bin, 'initdb'), [
        '-D',
        join(dir, 'data'),
        '-A',
        'trust',
        '-U',
        'postgres',
        '-E',
        'UTF8',
        '--no-sync',
      ]);
      return await onFreePort(async (port) => {
        const server = new PrivatePostgres(bin, dir, port);
        await server.start();
        return server;
      });
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Starts the server and resolves once it accepts connections. */
  async start(): Promise<void> {
    try {
      await asPostgres(join(this.bin, 'pg_ctl'), [
        '-D',
        join(this.dir, 'data'),
        '-l',
        join(this.dir, 'server.log'),
        '-o',
        `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        '-w',
        '-t',
        '30',
        'start',
      ]);
    } catch (error) {
      // The server's own words (a port clash reads "Address already in use").
      throw new Error(`${(error as Error).message}\n${await this.tail()}`);
    }
    this.running = true;
  }

  /**
   * Stops the server: `fast` (what a restart does: every session is terminated, open transactions
   * roll back) or `immediate` (as if it crashed: no shutdown checkpoint, recovery at the next start).
   */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.running) return;
    await asPostgres(join(this.bin, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
    this.running = false;
  }

  async cleanup(): Promise<void> {
    try {
      await this.stop('immediate');
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  async tail(lines = 20): Promise<string> {
    try {
      return (await readFile(join(this.dir, 'server.log'), 'utf8'))
        .trimEnd()
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch {
      return '(no server log)';
    }
  }
}

async function postgresIds(): Promise<[number, number]> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: group } = await run('id', ['-g', 'postgres']);
  return [Number(stdout.trim()), Number(group.trim())];
}

async function asPostgres(command: string, args: string[]): Promise<void> {
  if (userInfo().uid === 0) await run('runuser', ['-u', 'postgres', '--', command, ...args]);
  else await run(command, args);
}
