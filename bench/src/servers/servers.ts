import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ServiceProcess, TEST_NATS_URL } from '@herald/testing';

import { type ClientWire } from '../load/load-protocol';
import { residentBytes } from '../report/process-usage';
import { type BaselineMessage, type BaselineRequest } from './baseline-support';

export const SERVER_NAMES = ['herald', 'ws-floor', 'socketio', 'standalone'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];
/**
 * What `fanout`, `idle` and `storm` run on unless `--servers` says otherwise: Herald's gateway and
 * the baselines. The single process (`standalone`) has a scenario of its own.
 */
export const DEFAULT_SERVERS: ServerName[] = ['herald', 'ws-floor', 'socketio'];

/** A server under test, seen from the harness: where clients connect and what it uses. */
export interface ServerUnderTest {
  readonly name: ServerName;
  readonly pid: number;
  /** Base URL of the load generator's connections (the hub, or Socket.IO's root). */
  readonly url: string;
  readonly wire: ClientWire;
  /** Herald's `/send` (an internal token), where a server has one. */
  readonly sendUrl?: string;
  /** Open client connections, as the server counts them. */
  connections(): Promise<number>;
  residentBytes(): Promise<number>;
  heapUsedBytes(): Promise<number>;
  stop(): Promise<void>;
}

export interface ServerSetup {
  namespace: string;
  publicKeyPem: string;
  /** Connections the server must accept from the load generator's addresses and the real clients. */
  connections: number;
}

/**
 * Herald as deployed: the built gateway (dist/gateway) on NATS, or the single process
 * (dist/standalone: gateway, dispatcher, push worker and heartbeat in one process, its broker in
 * memory, its device registry SQLite in a fresh data folder). Either verifies ES256 tokens.
 */
class HeraldService implements ServerUnderTest {
  readonly wire = 'signalr';

  private constructor(
    readonly name: Extract<ServerName, 'herald' | 'standalone'>,
    private readonly service: ServiceProcess,
    private readonly dataDir?: string,
  ) {}

  static async start(name: 'herald' | 'standalone', setup: ServerSetup): Promise<HeraldService> {
    const common = {
      HERALD_JWT_PUBLIC_KEY: setup.publicKeyPem,
      // Every load connection comes from one of a few loopback addresses.
      HERALD_CONNECTIONS_PER_IP: String(setup.connections + 1000),
      // Production's level: debug would log every connection.
      HERALD_LOG_LEVEL: 'info',
    };
    if (name === 'herald') {
      const service = await ServiceProcess.start(
        'gateway',
        { ...common, HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: setup.namespace },
        90_000,
      );
      return new HeraldService(name, service);
    }
    // No HERALD_NATS_URL: the broker in memory; no HERALD_DATABASE_URL: SQLite in the data folder.
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
    try {
      const service = await ServiceProcess.start(
        'standalone',
        { ...common, HERALD_DATA_DIR: dataDir },
        90_000,
      );
      return new HeraldService(name, service, dataDir);
    } catch (error) {
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  get pid(): number {
    return this.service.pid;
  }

  get url(): string {
    return `ws://${this.service.host}:${this.service.port}/hub`;
  }

  /** The base for `@microsoft/signalr`, which wants http(s). */
  get httpUrl(): string {
    return `${this.service.url}/hub`;
  }

  get sendUrl(): string {
    return `${this.service.url}/send`;
  }

  connections(): Promise<number> {
    return this.service.metric('herald_gateway_connections');
  }

  residentBytes(): Promise<number> {
    return this.service.metric('herald_process_process_resident_memory_bytes');
  }

  heapUsedBytes(): Promise<number> {
    return this.service.metric('herald_process_nodejs_heap_size_used_bytes');
  }

  async stop(): Promise<void> {
    await this.service.stop();
    if (this.dataDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** A baseline (ws-floor.ts or socketio.ts) in a child process of its own, answering over IPC. */
class Baseline implements ServerUnderTest {
  private waiting: ((message: BaselineMessage) => void)[] = [];
  private exited = false;

  private constructor(
    readonly name: Extract<ServerName, 'ws-floor' | 'socketio'>,
    private readonly child: ChildProcess,
    private readonly port: number,
  ) {
    child.on('message', (message: BaselineMessage) => this.waiting.shift()?.(message));
    child.once('exit', () => {
      this.exited = true;
    });
  }

  static async start(
    name: Extract<ServerName, 'ws-floor' | 'socketio'>,
    setup: ServerSetup,
  ): Promise<Baseline> {
    const child = fork(join(__dirname, `${name}.js`), [], {
      // As for Herald's services (ServiceProcess): e.g. `--cpu-prof --cpu-prof-dir=tmp/prof`.
      execArgv: (process.env['HERALD_TEST_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
      env: {
        ...process.env,
        BENCH_NATS_URL: TEST_NATS_URL,
        BENCH_NAMESPACE: setup.namespace,
        BENCH_JWT_PUBLIC_KEY: setup.publicKeyPem,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start in 30 s`)), 30_000);
      child.once('message', (message: BaselineMessage) => {
        clearTimeout(timer);
        if (message.type === 'listening') resolve(message.port);
        else reject(new Error(`${name} sent ${message.type} before listening`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before listening`));
      });
    });
    return new Baseline(name, child, port);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get wire(): ClientWire {
    return this.name === 'socketio' ? 'socketio' : 'signalr';
  }

  get url(): string {
    return this.name === 'socketio' ? `ws://127.0.0.1:${this.port}` : `ws://127.0.0.1:${this.port}/hub`;
  }

  get httpUrl(): string {
    return this.name === 'socketio' ? `http://127.0.0.1:${this.port}` : `http://127.0.0.1:${this.port}/hub`;
  }

  async connections(): Promise<number> {
    return (await this.stats()).connections;
  }

  residentBytes(): Promise<number> {
    return residentBytes(this.pid);
  }

  async heapUsedBytes(): Promise<number> {
    return (await this.stats()).heapUsed;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    // SIGTERM exits normally (a --cpu-prof profile gets written); SIGKILL if that takes too long.
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private stats(): Promise<Extract<BaselineMessage, { type: 'stats' }>> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    return new Promise((resolve) => {
      this.waiting.push((message) => resolve(message as Extract<BaselineMessage, { type: 'stats' }>));
      this.child.send({ type: 'stats' } satisfies BaselineRequest);
    });
  }
}

export type StartedServer = ServerUnderTest & { readonly httpUrl: string };

export async function startServer(name: ServerName, setup: ServerSetup): Promise<StartedServer> {
  return name === 'herald' || name === 'standalone'
    ? HeraldService.start(name, setup)
    : Baseline.start(name, setup);
}

/** Events a dispatcher routes at once unless `--dispatcher-concurrency` says otherwise: its default. */
export const DEFAULT_DISPATCHER_CONCURRENCY = 64;

/**
 * Herald's dispatcher (dist/dispatcher) on the same NATS namespace, as deployed: `pipeline`
 * measures it. Its concurrency is set explicitly, so that the record says what ran.
 */
export function startDispatcher(namespace: string, concurrency: number): Promise<ServiceProcess> {
  return ServiceProcess.start(
    'dispatcher',
    {
      HERALD_NATS_URL: TEST_NATS_URL,
      HERALD_NAMESPACE: namespace,
      HERALD_LOG_LEVEL: 'info',
      HERALD_DISPATCHER_CONCURRENCY: String(concurrency),
    },
    90_000,
  );
}
