import { type ChildProcess, fork } from 'node:child_process';

/**
 * A child process of the harness spoken to over IPC: each command `{ command, … }` is answered
 * once by a reply with the same `id`; messages without an id are events, handed to `onEvent`.
 */
export class IpcChild<Command extends { command: string }, Reply extends { command: string }, Event = never> {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (reply: Reply) => void; reject: (error: Error) => void }
  >();
  exited = false;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    onEvent: (event: Event) => void,
  ) {
    child.on('message', (message: ({ id: number } & Reply) | Event) => {
      if (typeof message === 'object' && message !== null && 'id' in message) {
        const waiter = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        waiter?.resolve(message);
      } else onEvent(message);
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      const error = new Error(`${name} (pid ${child.pid}) exited (${signal ?? code})`);
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    });
  }

  /** Forks `script` (compiled JavaScript beside the caller's) with the harness's stdout and stderr. */
  static fork<Command extends { command: string }, Reply extends { command: string }, Event = never>(
    script: string,
    name: string,
    onEvent: (event: Event) => void = () => undefined,
  ): IpcChild<Command, Reply, Event> {
    return new IpcChild(name, fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), onEvent);
  }

  get pid(): number {
    return this.child.pid!;
  }

  request<C extends Command['command']>(
    command: Extract<Command, { command: C }>,
  ): Promise<Extract<Reply, { command: C }>> {
    if (this.exited) return Promise.reject(new Error(`${this.name} (pid ${this.child.pid}) has exited`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: (reply) => resolve(reply as Extract<Reply, { command: C }>), reject });
      this.child.send({ id, ...command });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}
