import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';

import { WebSocket } from 'ws';

import { eventually } from './eventually';

/** Opens a raw WebSocket upgrade and reports the HTTP status the server answered with (101 = upgraded). */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.statusCode ?? 0);
    });
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

/** A WebSocket with no SignalR client in between: tests assert the bytes the gateway writes. */
export class RawSocket {
  readonly frames: { data: Buffer; binary: boolean }[] = [];
  closed = false;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, binary) => this.frames.push({ data, binary }));
    socket.on('close', () => (this.closed = true));
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers, perMessageDeflate: false });
      socket.once('open', () => resolve(new RawSocket(socket)));
      socket.once('unexpected-response', (_request, response) =>
        reject(new Error(`HTTP ${response.statusCode}`)),
      );
      socket.once('error', reject);
    });
  }

  send(data: Buffer | string): void {
    this.socket.send(data, { binary: typeof data !== 'string' });
  }

  /** Stops reading from the socket: what the server sends piles up in its buffers (a slow client). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Waits until `count` frames have arrived and returns them. */
  async waitForFrames(count: number, timeoutMs = 10_000): Promise<{ data: Buffer; binary: boolean }[]> {
    return eventually(
      () => {
        if (this.frames.length < count) throw new Error(`${this.frames.length} of ${count} frames so far`);
        return this.frames;
      },
      { timeoutMs },
    );
  }

  async waitForClose(timeoutMs = 10_000): Promise<void> {
    await eventually(
      () => {
        if (!this.closed) throw new Error('still open');
      },
      { timeoutMs },
    );
  }

  close(): void {
    this.socket.terminate();
  }
}
