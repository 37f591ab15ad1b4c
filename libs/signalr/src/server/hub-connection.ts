import { type RawData, type WebSocket } from 'ws';

import { type HubMessage, type HubProtocol, MessageType } from '../protocol';
import { type Outbox } from './outbox';

export type ConnectionState = 'handshaking' | 'connected' | 'closed';

/**
 * The server that owns a connection: what it hears from the connection and its socket. The
 * socket's listeners are shared by every connection (the socket names its connection), so a
 * connection holds no listener closures of its own.
 */
export interface ConnectionOwner {
  /** The client cannot keep up: more than the buffer limit is waiting for it. */
  slowConsumer(connection: HubConnection<unknown>): void;
  frameReceived(connection: HubConnection<unknown>, socket: WebSocket, data: RawData): void;
  socketClosed(connection: HubConnection<unknown>, code: number): void;
  socketFailed(connection: HubConnection<unknown>, error: Error): void;
}

const CONNECTION = Symbol('HubConnection');
type OwnedSocket = WebSocket & { [CONNECTION]?: HubConnection<unknown> };

function onMessage(this: OwnedSocket, data: RawData): void {
  const connection = this[CONNECTION];
  connection?.owner.frameReceived(connection, this, data);
}

function onClose(this: OwnedSocket, code: number): void {
  const connection = this[CONNECTION];
  connection?.owner.socketClosed(connection, code);
}

function onError(this: OwnedSocket, error: Error): void {
  const connection = this[CONNECTION];
  connection?.owner.socketFailed(connection, error);
}

/**
 * One client connection of one hub, after the upgrade. Knows nothing of what the hub is for:
 * `identity` is whatever the hub's authorizer returned.
 */
export class HubConnection<TIdentity = unknown> {
  state: ConnectionState = 'handshaking';
  protocol: HubProtocol | undefined;
  /** Monotonic milliseconds of the last frame received / sent, read by the shared keep-alive timer. */
  lastReceivedAt: number;
  lastSentAt: number;
  readonly openedAt: number;
  closeReason: string | undefined;
  /** The hub's setup of this connection, once started (see HubDefinition.onConnected). */
  setup: Promise<void> | undefined;
  /** When the hub's periodic invocation was last sent (monotonic ms). */
  lastPeriodicAt: number;
  /** Messages queued since the last flush, written as one frame when the outbox flushes (or before a Close). */
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  /** The WebSocket close code, once the socket is gone. */
  private closedWith: number | undefined;
  /** Waiting on `gone` (only a shutdown does): created on demand, not per connection. */
  private goneWaiters: ((answered: boolean) => void)[] | undefined;

  // Transport state, owned by SignalRServer. Fields rather than closures: a connection carries no
  // listener or callback scopes of its own (an idle gateway holds thousands of these).
  /** Handshake bytes received so far (a handshake may span frames). */
  handshakeBytes: Buffer | undefined;
  /** Frames that arrived after the handshake while the hub was still setting the connection up. */
  heldFrames: Buffer[] | undefined;
  heldBytes = 0;
  /** Releases what the authorizer reserved (connection limits); taken (and run) once. */
  release: (() => void) | undefined;
  /** The negotiate token the client connected with, released with the connection. */
  negotiationToken: string | null = null;

  constructor(
    readonly id: string,
    readonly hub: string,
    readonly identity: TIdentity,
    readonly remoteAddress: string,
    private readonly socket: WebSocket,
    private readonly maxBufferedBytes: number,
    now: number,
    readonly owner: ConnectionOwner,
    private readonly outbox: Outbox,
  ) {
    this.openedAt = now;
    this.lastPeriodicAt = now;
    this.lastReceivedAt = now;
    this.lastSentAt = now;
    (socket as OwnedSocket)[CONNECTION] = this;
    socket.on('message', onMessage);
    socket.on('close', onClose);
    socket.on('error', onError);
  }

  /**
   * Resolves once the socket is gone: true when the client answered the WebSocket closing
   * handshake (so it had read everything written before the close), false when it went without
   * (1006: reset, terminated, or the peer vanished).
   */
  get gone(): Promise<boolean> {
    if (this.closedWith !== undefined) return Promise.resolve(this.closedWith !== 1006);
    return new Promise((resolve) => (this.goneWaiters ??= []).push(resolve));
  }

  /** For the transport only: the socket is gone, with this WebSocket close code. */
  socketClosed(code: number): void {
    this.closedWith = code;
    const waiters = this.goneWaiters;
    this.goneWaiters = undefined;
    for (const resolve of waiters ?? []) resolve(code !== 1006);
  }

  /** Outbound bytes queued for this socket that the operating system has not taken yet. */
  get bufferedBytes(): number {
    return this.socket.bufferedAmount + this.queuedBytes;
  }

  get isOpen(): boolean {
    return this.state === 'connected';
  }

  /**
   * Queues bytes already encoded for this connection's protocol; they leave with the other
   * messages queued with it in one frame. A client that cannot keep up is closed rather than
   * buffered without bound. Returns false if nothing was queued.
   */
  sendEncoded(data: Buffer, now: number): boolean {
    if (this.state !== 'connected') {
      return false;
    }
    if (this.socket.bufferedAmount + this.queuedBytes > this.maxBufferedBytes) {
      this.owner.slowConsumer(this);
      return false;
    }
    if (this.queued.length === 0) this.outbox.add(this);
    this.queued.push(data);
    this.queuedBytes += data.length;
    this.lastSentAt = now;
    return true;
  }

  /** Writes what was queued as one WebSocket frame. */
  flush(): void {
    const queued = this.queued;
    if (queued.length === 0) return;
    const bytes = this.queuedBytes;
    this.queued = [];
    this.queuedBytes = 0;
    if (this.socket.readyState !== this.socket.OPEN) return;
    const frame = queued.length === 1 ? queued[0]! : Buffer.concat(queued, bytes);
    this.socket.send(frame, { binary: this.protocol?.transferFormat === 'binary' });
  }

  sendMessage(message: HubMessage, now: number): boolean {
    return this.protocol ? this.sendEncoded(this.protocol.writeMessage(message), now) : false;
  }

  /** Sends a SignalR Close (when the handshake is done) and closes the WebSocket. Idempotent. */
  close(reason: string, error?: string, allowReconnect?: boolean): void {
    if (this.state === 'closed') {
      return;
    }
    // What was queued before the Close leaves before it.
    this.flush();
    if (this.state === 'connected' && this.protocol) {
      const close: HubMessage = {
        type: MessageType.Close,
        ...(error ? { error } : {}),
        ...(allowReconnect ? { allowReconnect } : {}),
      };
      this.socket.send(this.protocol.writeMessage(close), {
        binary: this.protocol.transferFormat === 'binary',
      });
    }
    this.state = 'closed';
    this.closeReason = reason;
    this.socket.close(1000);
    // A peer that never answers the closing handshake must not hold the socket open.
    setTimeout(() => this.socket.terminate(), 5000).unref();
  }

  /** Drops the socket at once, without waiting for the closing handshake. */
  terminate(): void {
    this.socket.terminate();
  }

  /** For the transport only: marks the connection closed without writing. */
  markClosed(reason: string): void {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.closeReason = reason;
    }
  }
}
