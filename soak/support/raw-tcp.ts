import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** WebSocket opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

export interface FrameOptions {
  fin?: boolean;
  /** Clients must mask; an unmasked client frame is a protocol error. */
  masked?: boolean;
  /** RSV1-3 bits (no extension is negotiated, so any set bit is a protocol error). */
  rsv?: number;
  /** The length written in the header, when it should lie about the payload. */
  declaredLength?: bigint;
}

/** One WebSocket frame as a client writes it, or as a hostile one does. */
export function wsFrame(opcode: number, payload: Buffer, options: FrameOptions = {}): Buffer {
  const { fin = true, masked = true, rsv = 0 } = options;
  const length = options.declaredLength ?? BigInt(payload.length);
  let header: Buffer;
  if (length < 126n) {
    header = Buffer.from([0, Number(length)]);
  } else if (length < 65_536n) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(length, 2);
  }
  header[0] = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0xf);
  if (!masked) return Buffer.concat([header, payload]);
  header[1] = header[1]! | 0x80;
  const mask = randomBytes(4);
  const body = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i += 1) body[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([header, mask, body]);
}

/**
 * A TCP connection that speaks HTTP and WebSocket by hand, so that it can say what no WebSocket
 * library would. Notices when the server ends the conversation: an HTTP answer other than 101, a
 * WebSocket Close frame, or the socket closing under it.
 */
export class RawTcp {
  /** How the conversation ended, once it has; `server` means the gateway ended it. */
  endedBy: 'server' | 'client' | undefined;
  /** HTTP status of the upgrade answer, once read. */
  status: number | undefined;
  received = 0;
  /** WebSocket frames received other than Close (the handshake answer, completions, pings). */
  frames = 0;
  private head: Buffer = Buffer.alloc(0);
  private pending: Buffer = Buffer.alloc(0);
  private upgraded = false;
  private readonly ended: Promise<void>;
  private onHead: (() => void) | undefined;
  private onFirstFrame: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    this.ended = new Promise((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        this.received += chunk.length;
        if (this.read(chunk)) {
          this.endedBy ??= 'server';
          resolve();
        }
      });
      socket.once('close', () => {
        this.endedBy ??= 'server';
        resolve();
      });
      socket.once('end', () => {
        this.endedBy ??= 'server';
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static open(port: number, localAddress?: string, host = '127.0.0.1'): Promise<RawTcp> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
      socket.setNoDelay(true);
      socket.once('connect', () => resolve(new RawTcp(socket)));
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return this.endedBy === undefined && !this.socket.destroyed;
  }

  write(data: Buffer | string): void {
    if (this.isOpen) this.socket.write(data);
  }

  /** The upgrade request for `path`, with `headers` replacing or adding to the usual ones. */
  static upgradeRequest(path: string, headers: Record<string, string | undefined> = {}): string {
    const all: Record<string, string | undefined> = {
      Host: '127.0.0.1',
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      ...headers,
    };
    const lines = Object.entries(all)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}: ${value}\r\n`);
    return `GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`;
  }

  /** Sends an upgrade request and resolves with the status of the answer (101 when upgraded). */
  async upgrade(
    path: string,
    headers: Record<string, string | undefined> = {},
    timeoutMs = 30_000,
  ): Promise<number> {
    const answered = new Promise<void>((resolve) => (this.onHead = resolve));
    this.write(RawTcp.upgradeRequest(path, headers));
    await Promise.race([answered, this.ended, sleep(timeoutMs)]);
    return this.status ?? 0;
  }

  /** Resolves true once the first WebSocket frame arrived (after a handshake, its answer). */
  async waitFirstFrame(timeoutMs = 30_000): Promise<boolean> {
    if (this.frames > 0) return true;
    const arrived = new Promise<void>((resolve) => (this.onFirstFrame = resolve));
    await Promise.race([arrived, this.ended, sleep(timeoutMs)]);
    return this.frames > 0;
  }

  /** Resolves true once the server ended the conversation, false if it had not within `timeoutMs`. */
  async waitEnded(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.ended, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return this.endedBy === 'server';
  }

  /** Drops the connection from this side (a reset, no goodbye). */
  destroy(): void {
    this.endedBy ??= 'client';
    this.socket.destroy();
  }

  /** Reads what arrived; true once the server has ended the conversation. */
  private read(chunk: Buffer): boolean {
    if (!this.upgraded) {
      this.head = Buffer.concat([this.head, chunk]);
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const match = /^HTTP\/1\.1 (\d{3})/.exec(this.head.subarray(0, end).toString('latin1'));
      this.status = match ? Number(match[1]) : 0;
      this.onHead?.();
      if (this.status !== 101) return true;
      this.upgraded = true;
      chunk = this.head.subarray(end + 4);
      this.head = Buffer.alloc(0);
    }
    // Server frames are unmasked: look for a Close frame, skip the rest.
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (this.pending.length < 2) return false;
      const opcode = this.pending[0]! & 0x0f;
      let length = this.pending[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.pending.length < 4) return false;
        length = this.pending.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.pending.length < 10) return false;
        length = Number(this.pending.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.pending.length < offset + length) return false;
      this.pending = this.pending.subarray(offset + length);
      if (opcode === Opcode.Close) return true;
      this.frames += 1;
      if (this.frames === 1) this.onFirstFrame?.();
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
