import { join } from 'node:path';

import { IpcChild } from './ipc-child';
import {
  type ClientWire,
  type RealClientSpec,
  type RealCommand,
  type RealReply,
  type ReceivedVia,
} from './load-protocol';

export type { ReceivedVia };

/**
 * A handful of real clients in every run, beside the load generator's bare sockets, in a process
 * of their own (real-client-worker.ts). Each checks every message it gets; `verify` fails the
 * run loudly on any problem, including a connection the server closed.
 */
export class RealClients {
  private constructor(
    private readonly process: IpcChild<RealCommand, RealReply>,
    readonly specs: RealClientSpec[],
  ) {}

  static async connect(
    wire: ClientWire,
    url: string,
    specs: RealClientSpec[],
    everyoneId: string,
  ): Promise<RealClients> {
    const child = IpcChild.fork<RealCommand, RealReply>(
      join(__dirname, 'real-client-worker.js'),
      'real clients',
    );
    const reply = await child
      .request({ command: 'connect', wire, url, specs, everyoneId })
      .catch((error: Error) => ({
        command: 'connect' as const,
        error: error.message,
      }));
    if (reply.error !== undefined) {
      await child.stop();
      throw new Error(`the real clients could not connect: ${reply.error}`);
    }
    return new RealClients(child, specs);
  }

  get pid(): number {
    return this.process.pid;
  }

  /** What every client got so far, by group. */
  async counts(): Promise<Record<ReceivedVia, number>[]> {
    return (await this.process.request({ command: 'counts' })).counts;
  }

  /** Throws with every problem seen so far. */
  async verify(): Promise<void> {
    const { problems } = await this.process.request({ command: 'counts' });
    if (problems.length > 0)
      throw new Error(`the real clients saw wrong traffic:\n  ${problems.join('\n  ')}`);
  }

  async stop(): Promise<void> {
    if (!this.process.exited) await this.process.request({ command: 'stop' }).catch(() => undefined);
    await this.process.stop();
  }
}
