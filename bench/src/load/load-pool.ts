import { join } from 'node:path';

import { LatencyHistogram } from '../report/histogram';
import { IpcChild } from './ipc-child';
import {
  type ClientWire,
  type ConnectResult,
  type LoadClient,
  type LoadCommand,
  type LoadEvent,
  type LoadReply,
} from './load-protocol';

type LoadProcess = IpcChild<LoadCommand, LoadReply, LoadEvent>;

/**
 * The load generator seen from the harness: the clients spread evenly over a few processes
 * (load-worker.ts), their receipts counted as they stream in.
 */
export class LoadPool {
  /** Notifications received by every connection since the pool started. */
  received = 0;
  /** Messages that were not a well-formed notification. */
  unexpected = 0;
  /** Connections the server closed, by close code, since the pool started. */
  readonly closedByServer: Record<string, number> = {};
  private readonly connecting = new Map<LoadProcess, { connected: number; refused: number }>();
  private receiptWaiters: (() => void)[] = [];

  private constructor(private readonly processes: LoadProcess[]) {}

  /**
   * Forks `count` load processes and gives each an even share of `clients`; with several `urls`
   * (gateways sharing the load) the processes take them in turn, so each gateway gets its share.
   */
  static async start(
    count: number,
    wire: ClientWire,
    urls: string[],
    clients: LoadClient[],
  ): Promise<LoadPool> {
    const script = join(__dirname, 'load-worker.js');
    const processes: LoadProcess[] = [];
    const pool = new LoadPool(processes);
    for (let index = 0; index < count; index += 1) {
      const worker: LoadProcess = IpcChild.fork<LoadCommand, LoadReply, LoadEvent>(
        script,
        'load process',
        (event) => pool.onEvent(worker, event),
      );
      processes.push(worker);
    }
    const share = Math.ceil(clients.length / count);
    try {
      await Promise.all(
        processes.map((worker, index) =>
          worker.request({
            command: 'init',
            wire,
            url: urls[index % urls.length]!,
            clients: clients.slice(index * share, (index + 1) * share),
          }),
        ),
      );
    } catch (error) {
      await pool.stop();
      throw error;
    }
    return pool;
  }

  get pids(): number[] {
    return this.processes.map((worker) => worker.pid);
  }

  /** Resolves on the next batch of receipts, or after `timeoutMs` without one. */
  nextReceipts(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.receiptWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Opens every connection; `onProgress` hears the running totals about twice a second. */
  async connect(
    concurrency: number,
    onProgress: (connected: number, refused: number) => void = () => undefined,
  ): Promise<ConnectResult> {
    this.connecting.clear();
    this.onProgress = onProgress;
    try {
      const results = await Promise.all(
        this.processes.map((worker) => worker.request({ command: 'connect', concurrency })),
      );
      const refused: Record<string, number> = {};
      for (const result of results) {
        for (const [reason, count] of Object.entries(result.refused))
          refused[reason] = (refused[reason] ?? 0) + count;
      }
      return {
        connected: results.reduce((sum, result) => sum + result.connected, 0),
        refused,
        startedAt: Math.min(...results.map((result) => result.startedAt)),
        finishedAt: Math.max(...results.map((result) => result.finishedAt)),
      };
    } finally {
      this.onProgress = () => undefined;
    }
  }

  /** Drops every connection at once; resolves with how many were open. */
  async drop(): Promise<number> {
    const results = await Promise.all(this.processes.map((worker) => worker.request({ command: 'drop' })));
    return results.reduce((sum, result) => sum + result.dropped, 0);
  }

  async resetLatency(): Promise<void> {
    await Promise.all(this.processes.map((worker) => worker.request({ command: 'latency-reset' })));
  }

  async collectLatency(): Promise<LatencyHistogram> {
    const histogram = new LatencyHistogram();
    for (const snapshot of await Promise.all(
      this.processes.map((worker) => worker.request({ command: 'latency-collect' })),
    )) {
      histogram.merge(snapshot);
    }
    return histogram;
  }

  /** A load process that died makes every later figure meaningless. */
  assertAlive(): void {
    const dead = this.processes.find((worker) => worker.exited);
    if (dead) throw new Error(`load process ${dead.pid} died`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((worker) => worker.stop()));
  }

  private onProgress: (connected: number, refused: number) => void = () => undefined;

  private onEvent(source: LoadProcess, event: LoadEvent): void {
    switch (event.event) {
      case 'received': {
        this.received += event.count;
        this.unexpected += event.unexpected;
        const waiters = this.receiptWaiters;
        this.receiptWaiters = [];
        for (const waiter of waiters) waiter();
        break;
      }
      case 'connecting': {
        this.connecting.set(source, { connected: event.connected, refused: event.refused });
        let connected = 0;
        let refused = 0;
        for (const counts of this.connecting.values()) {
          connected += counts.connected;
          refused += counts.refused;
        }
        this.onProgress(connected, refused);
        break;
      }
      case 'closed-by-server':
        this.closedByServer[event.reason] = (this.closedByServer[event.reason] ?? 0) + event.count;
        break;
    }
  }
}
