import { Unpackr } from 'msgpackr';
import { type RawData, WebSocket } from 'ws';

import { framedMessages, HANDSHAKE, PING, type WireProtocol } from '@herald/testing';

export { framedMessages, HANDSHAKE, PING };
export type Protocol = WireProtocol;

/**
 * A SignalR client in a few lines, for volume: WebSockets only, negotiation skipped (as Bitwarden's
 * clients connect), MessagePack or JSON. It does the handshake, pings every 10 s (the gateway
 * closes a client silent for 30 s), decodes the invocations it receives and nothing else.
 */

export interface Invocation {
  target: string;
  args: unknown[];
}

export interface RawHubOptions {
  protocol: Protocol;
  /** Source address of the TCP connection (any 127.x.y.z on loopback), so per-IP limits see it. */
  localAddress?: string;
  headers?: Record<string, string>;
}

/** The gateway answered the upgrade with an HTTP status instead of 101. */
export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

const RECORD_SEPARATOR = 0x1e;
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false });

const CLOSE: Record<Protocol, Buffer | string> = {
  messagepack: Buffer.from([0x03, 0x92, 0x07, 0xc0]),
  json: '{"type":7}\x1e',
};

export class RawHubClient {
  /** Every invocation the server sends (notifications, Heartbeat). */
  onInvocation: (invocation: Invocation) => void = () => undefined;
  /** Once, when the socket is gone. */
  onClose: (byServer: boolean) => void = () => undefined;
  closed = false;
  /** The error the server's Close message carried, if it sent one. */
  closeError: string | undefined;
  /** Frames of any kind received after the handshake. */
  frames = 0;
  private closedByClient = false;
  private readonly pinger: NodeJS.Timeout;

  private constructor(
    readonly socket: WebSocket,
    readonly protocol: Protocol,
  ) {
    this.pinger = setInterval(() => this.send(PING[protocol]), 10_000);
    this.pinger.unref();
    socket.on('close', () => {
      clearInterval(this.pinger);
      this.closed = true;
      this.onClose(!this.closedByClient);
    });
  }

  /** Upgrades, sends the handshake and resolves once the server answered it with `{}`. */
  static connect(url: string, options: RawHubOptions): Promise<RawHubClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        perMessageDeflate: false,
        headers: options.headers,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      });
      let client: RawHubClient | undefined;
      const fail = (error: Error) => {
        socket.terminate();
        reject(error);
      };
      socket.once('unexpected-response', (_request, response) => {
        response.resume();
        fail(new UpgradeRefused(response.statusCode ?? 0));
      });
      socket.once('error', (error) => {
        if (!client) fail(error);
      });
      socket.once('close', () => {
        if (!client) reject(new Error('closed before the handshake was answered'));
      });
      socket.once('open', () => socket.send(HANDSHAKE[options.protocol]));
      socket.on('message', (data: RawData) => {
        const frame = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
        if (client) {
          client.receive(frame);
          return;
        }
        const separator = frame.indexOf(RECORD_SEPARATOR);
        if (separator < 0) return fail(new Error('handshake reply without a record separator'));
        const reply = JSON.parse(frame.subarray(0, separator).toString('utf8')) as { error?: string };
        if (reply.error) return fail(new Error(`handshake refused: ${reply.error}`));
        client = new RawHubClient(socket, options.protocol);
        resolve(client);
        if (separator + 1 < frame.length) client.receive(frame.subarray(separator + 1));
      });
    });
  }

  send(data: Buffer | string): void {
    if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(data, { binary: typeof data !== 'string' });
    }
  }

  /** Closes the way a client does: a SignalR Close, then the WebSocket closing handshake. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closedByClient = true;
    const gone = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.send(CLOSE[this.protocol]);
    this.socket.close(1000);
    const timer = setTimeout(() => this.socket.terminate(), 5000);
    await gone;
    clearTimeout(timer);
  }

  /** Drops the connection without a word (a client that vanished). */
  terminate(): void {
    this.closedByClient = true;
    this.socket.terminate();
  }

  private receive(frame: Buffer): void {
    this.frames += 1;
    if (this.protocol === 'messagepack') {
      for (const message of framedMessages(frame)) this.handle(unpackr.unpack(message) as unknown[]);
      return;
    }
    let start = 0;
    for (let end = frame.indexOf(RECORD_SEPARATOR); end >= 0; end = frame.indexOf(RECORD_SEPARATOR, start)) {
      const message = JSON.parse(frame.subarray(start, end).toString('utf8')) as {
        type: number;
        target?: string;
        arguments?: unknown[];
        error?: string;
      };
      start = end + 1;
      if (message.type === 1) this.onInvocation({ target: message.target!, args: message.arguments ?? [] });
      else if (message.type === 7) this.closeError = message.error;
    }
  }

  /** A decoded MessagePack hub message: `[1, headers, id, target, args]`, `[6]`, `[7, error, …]`. */
  private handle(message: unknown[]): void {
    if (message[0] === 1) {
      this.onInvocation({ target: message[3] as string, args: (message[4] as unknown[]) ?? [] });
    } else if (message[0] === 7) {
      this.closeError = (message[1] as string | null) ?? undefined;
    }
  }
}
