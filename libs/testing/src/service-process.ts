import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { WebSocket } from 'ws';

export type HeraldApp =
  'gateway' | 'dispatcher' | 'push-worker' | 'heartbeat' | 'vaultwarden-bridge' | 'standalone';

const PORT_VARIABLE: Record<HeraldApp, string> = {
  gateway: 'HERALD_GATEWAY_PORT',
  dispatcher: 'HERALD_DISPATCHER_PORT',
  'push-worker': 'HERALD_PUSH_PORT',
  heartbeat: 'HERALD_HEARTBEAT_PORT',
  'vaultwarden-bridge': 'HERALD_VAULTWARDEN_BRIDGE_PORT',
  standalone: 'HERALD_GATEWAY_PORT',
};

/**
 * The repository: the nearest folder above this file that holds nx.json. This file runs from
 * source (Jest) and compiled under `dist/<project>/libs/testing/src` (the benchmark harness).
 */
export const WORKSPACE_ROOT = workspaceRootAbove(__dirname);

function workspaceRootAbove(start: string): string {
  for (let folder = start; dirname(folder) !== folder; folder = dirname(folder)) {
    if (existsSync(join(folder, 'nx.json'))) return folder;
  }
  return join(start, '..', '..', '..');
}

export function builtEntryPoint(app: HeraldApp): string {
  return join(WORKSPACE_ROOT, 'dist', app, 'apps', app, 'src', 'main.js');
}

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** A built Herald app running as its own process, as in production. */
export class ServiceProcess {
  readonly logs: LogLine[] = [];
  readonly rawOutput: string[] = [];
  port = 0;
  /** The address it listens on (HERALD_HOST). */
  host = '127.0.0.1';
  private exit: Promise<number | null>;

  private constructor(
    readonly app: HeraldApp,
    private readonly child: ChildProcess,
  ) {
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
    );
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Starts `dist/<app>` with only the given HERALD_* variables (the test's own environment's
   * HERALD_* are dropped) on a port the system picks, and resolves once it logs `listening`.
   */
  static async start(
    app: HeraldApp,
    env: Record<string, string>,
    timeoutMs = 20_000,
    nodeArgs: string[] = [],
  ): Promise<ServiceProcess> {
    const entry = builtEntryPoint(app);
    if (!existsSync(entry)) {
      throw new Error(`${entry} does not exist: run \`npm run build\` first`);
    }
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('HERALD_')),
    );
    // HERALD_TEST_NODE_ARGS: extra Node options for the services only (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`),
    // which NODE_OPTIONS does not allow.
    const extraArgs = (process.env['HERALD_TEST_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...extraArgs, ...nodeArgs, entry], {
      env: {
        ...inherited,
        HERALD_HOST: '127.0.0.1',
        [PORT_VARIABLE[app]]: '0',
        HERALD_LOG_LEVEL: 'debug',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(app, child);
    service.host = env['HERALD_HOST'] ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${app} did not start in ${timeoutMs} ms:\n${service.tail()}`)),
        timeoutMs,
      );
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let newline;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          service.rawOutput.push(line);
          try {
            const parsed = JSON.parse(line) as LogLine;
            service.logs.push(parsed);
            if (parsed.msg === 'listening' && typeof parsed.port === 'number') {
              service.port = parsed.port;
              clearTimeout(timer);
              resolve();
            }
          } catch {
            // not a JSON line; kept in rawOutput
          }
        }
      });
      child.stderr.on('data', (chunk: Buffer) => service.rawOutput.push(chunk.toString('utf8')));
      void service.exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${app} exited with ${code} before listening:\n${service.tail()}`));
      });
    });
    return service;
  }

  /**
   * Runs a full garbage collection in the service, which must have been started with
   * `--inspect=127.0.0.1:0` (its inspector's address is read from its output): what the heap
   * holds afterwards is what is really retained, not garbage waiting for the next collection.
   */
  async collectGarbage(): Promise<void> {
    const address = this.rawOutput
      .map((line) => /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1])
      .find((found) => found !== undefined);
    if (!address) throw new Error(`${this.app} was not started with --inspect`);
    const socket = new WebSocket(address);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () =>
          socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })),
        );
        socket.on('message', (data: Buffer) => {
          if ((JSON.parse(data.toString('utf8')) as { id?: number }).id === 1) resolve();
        });
        socket.once('error', reject);
      });
    } finally {
      socket.close();
    }
  }

  /** Sends a signal and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return this.exit;
    }
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }

  /**
   * Scrapes `/metrics` and sums every series of `name` whose labels include `labels` (all series
   * when none are given). Throws, naming the metric, when no series matches: a renamed metric or
   * label must fail the test, not read as 0. A labelled counter has no series until its first
   * increment; a caller that expects that passes `absentAs` (with its reason in a comment).
   */
  async metric(
    name: string,
    labels: Record<string, string> = {},
    options: { absentAs?: number } = {},
  ): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    let sum = 0;
    let matched = 0;
    for (const line of text.split('\n')) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const series = match[2] ?? '';
      if (Object.entries(labels).every(([key, value]) => series.includes(`${key}="${value}"`))) {
        sum += Number(match[3]);
        matched += 1;
      }
    }
    if (matched === 0) {
      if (options.absentAs !== undefined) return options.absentAs;
      throw new Error(
        `${this.app} exposes no series of ${name}${
          Object.keys(labels).length > 0 ? ` with ${JSON.stringify(labels)}` : ''
        } at ${this.url}/metrics`,
      );
    }
    return sum;
  }

  tail(lines = 40): string {
    return this.rawOutput.slice(-lines).join('\n');
  }
}
