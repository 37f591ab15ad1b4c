import { WebSocket } from 'ws';

const RS = '\x1e';

export interface ReceivedMessage {
  Type: number;
  Payload: Record<string, unknown>;
}

/**
 * A raw WebSocket speaking SignalR's JSON protocol, no client library in between: it sends the
 * handshake, records every ReceiveMessage invocation and the Close message, and can stop reading
 * (a slow consumer) or send a Ping (a sign of life).
 */
export class JsonHubClient {
  readonly messages: ReceivedMessage[] = [];
  close: { error?: string; allowReconnect?: boolean } | undefined;
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      for (const text of data.toString('utf8').split(RS)) {
        if (text === '' || text === '{}') continue;
        const message = JSON.parse(text) as { type: number; target?: string; arguments?: unknown[] } & {
          error?: string;
          allowReconnect?: boolean;
        };
        if (message.type === 1 && message.target === 'ReceiveMessage') {
          this.messages.push(message.arguments?.[0] as ReceivedMessage);
        } else if (message.type === 7) {
          this.close = { error: message.error, allowReconnect: message.allowReconnect };
        }
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Opens, hands shakes and resolves once the server answered `{}` (its groups are live by then). */
  static open(url: string): Promise<JsonHubClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false });
      socket.once('open', () => socket.send(`{"protocol":"json","version":1}${RS}`));
      socket.once('message', (data: Buffer) => {
        const text = data.toString('utf8');
        if (!text.startsWith(`{}${RS}`)) return reject(new Error(`handshake refused: ${text}`));
        const client = new JsonHubClient(socket);
        // The handshake reply may share its frame with the first messages.
        const rest = text.slice(3);
        if (rest) socket.emit('message', Buffer.from(rest));
        resolve(client);
      });
      socket.once('unexpected-response', (_request, response) =>
        reject(new Error(`HTTP ${response.statusCode}`)),
      );
      socket.once('error', reject);
    });
  }

  /** The marker (`Payload.Id`) of every message received, in order. */
  get ids(): string[] {
    return this.messages.map((message) =>
      typeof message.Payload.Id === 'string' ? message.Payload.Id : `type-${message.Type}`,
    );
  }

  ping(): void {
    this.socket.send(`{"type":6}${RS}`);
  }

  /** Stops reading: what the server sends piles up in its buffers. */
  pause(): void {
    this.socket.pause();
  }

  terminate(): void {
    this.socket.terminate();
  }

  /** Closes from the client side and waits until the socket is gone. */
  async disconnect(): Promise<void> {
    this.socket.close(1000);
    await this.until(() => this.closed);
  }

  /** Waits until `count` messages arrived (or fails after `timeoutMs`). */
  async received(count: number, timeoutMs = 2000): Promise<string[]> {
    await this.until(() => this.messages.length >= count, timeoutMs);
    return this.ids;
  }

  async until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out; received so far: ${this.ids.join(', ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
