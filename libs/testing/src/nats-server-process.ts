import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { eventually } from './eventually';
import { onFreePort } from './free-port';

export const NATS_SERVER_BINARY = process.env.HERALD_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

/** Resolves once a client connection to `port` receives the server's INFO line. */
function greets(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => socket.destroy(new Error(`no INFO from port ${port}`)));
    socket.once('data', (chunk: Buffer) => {
      socket.destroy();
      if (chunk.toString('utf8').startsWith('INFO')) resolve();
      else reject(new Error(`port ${port} answered something other than INFO`));
    });
    socket.once('error', reject);
  });
}

/**
 * A private `nats-server` with JetStream, on a free loopback port with a temporary store, that a
 * test may stop and start again (same port, same store) to play an outage.
 */
export class NatsServerProcess {
  /** Everything the server wrote, across restarts; for diagnostics. */
  readonly output: string[] = [];
  private child: ChildProcess | undefined;
  private exit: Promise<number | null> | undefined;

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    /** More `nats-server` arguments, e.g. a cluster's (see `NatsCluster`). */
    private readonly extraArgs: readonly string[],
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Creates the store directory, picks a port, and starts the server. */
  static async launch(timeoutMs = 10_000, extraArgs: readonly string[] = []): Promise<NatsServerProcess> {
    // nats-server cannot report a port it picked itself in a form we read reliably, so it is given
    // one; when another process took it meanwhile, the server exits and a fresh port is tried.
    return onFreePort(async (port) => {
      const server = await NatsServerProcess.prepare(port, extraArgs);
      try {
        await server.start(timeoutMs);
      } catch (error) {
        await server.cleanup();
        throw error;
      }
      return server;
    });
  }

  /** A server on `port` with a fresh store directory, not started yet. */
  static async prepare(port: number, extraArgs: readonly string[] = []): Promise<NatsServerProcess> {
    const storeDir = await mkdtemp(join(tmpdir(), 'herald-nats-'));
    return new NatsServerProcess(port, storeDir, extraArgs);
  }

  /** Starts the server (again) on the same port and store; resolves once it greets clients. */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.running) throw new Error('nats-server is already running');
    const child = spawn(
      NATS_SERVER_BINARY,
      ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir, ...this.extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exit = new Promise<number | null>((resolve) => {
      child.once('close', (code, signal) => resolve(code ?? (signal ? -1 : null)));
      child.once('error', (error) => {
        this.output.push(`spawn failed: ${error.message}`);
        resolve(-1);
      });
    });
    const record = (chunk: Buffer) => this.output.push(...chunk.toString('utf8').trimEnd().split('\n'));
    child.stdout.on('data', record);
    child.stderr.on('data', record);
    this.child = child;
    this.exit = exit;
    let exited = false;
    const early = exit.then((code) => {
      exited = true;
      throw new Error(`nats-server exited with ${code} while starting:\n${this.tail()}`);
    });
    const ready = eventually(
      async () => {
        if (exited) return;
        await greets(this.port);
      },
      { timeoutMs, intervalMs: 50 },
    );
    try {
      await Promise.race([ready, early]);
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      early.catch(() => undefined);
    }
  }

  /**
   * Sends SIGTERM (a clean shutdown: the store is flushed) and resolves with the exit code.
   * nats-server exits with 1 even after a clean shutdown; it logs `Server Exiting..` then.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    const child = this.child;
    const exit = this.exit;
    if (!child || !exit) return null;
    if (this.running) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    }
    return exit;
  }

  /** Stops the server if it runs, and removes its store. */
  async cleanup(): Promise<void> {
    await this.stop();
    await rm(this.storeDir, { recursive: true, force: true });
  }

  tail(lines = 30): string {
    return this.output.slice(-lines).join('\n');
  }
}
