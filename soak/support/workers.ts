import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { transformFileSync } from '@swc/core';

import { WORKSPACE_ROOT } from '@herald/testing';

import { type WorkerClient, type WorkerCommand, type WorkerReply } from './connection-worker';

/** connection-worker.ts compiled to JavaScript under tmp/ (so that its `ws` import resolves). */
function compiledWorker(): string {
  const output = join(WORKSPACE_ROOT, 'tmp', 'soak', 'connection-worker.js');
  mkdirSync(join(WORKSPACE_ROOT, 'tmp', 'soak'), { recursive: true });
  const { code } = transformFileSync(join(__dirname, 'connection-worker.ts'), {
    swcrc: false,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  writeFileSync(output, code);
  return output;
}

/** One child process holding connections; each command resolves with its reply. */
export class ConnectionWorker {
  private waiting: ((reply: WorkerReply) => void) | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: WorkerReply) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.(reply);
    });
  }

  /** Starts `count` workers, each with its share of `clients`, connecting to `url`. */
  static async startAll(count: number, url: string, clients: WorkerClient[]): Promise<ConnectionWorker[]> {
    const script = compiledWorker();
    const workers = Array.from(
      { length: count },
      () => new ConnectionWorker(fork(script, [], { stdio: 'inherit' })),
    );
    const share = Math.ceil(clients.length / count);
    await Promise.all(
      workers.map((worker, index) =>
        worker.request({ command: 'init', url, clients: clients.slice(index * share, (index + 1) * share) }),
      ),
    );
    return workers;
  }

  request<C extends WorkerCommand['command']>(
    message: Extract<WorkerCommand, { command: C }>,
  ): Promise<Extract<WorkerReply, { command: C }>> {
    if (this.waiting) throw new Error('one command at a time');
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`connection worker exited with ${code}`));
      this.child.once('exit', onExit);
      this.waiting = (reply) => {
        this.child.off('exit', onExit);
        resolve(reply as Extract<WorkerReply, { command: C }>);
      };
      this.child.send(message);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}
