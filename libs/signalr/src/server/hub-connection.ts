import { type WebSocket } from 'ws';

import { type HubMessage, type HubProtocol, MessageType } from '../protocol';
import { type Outbox } from './outbox';

export type ConnectionState = 'handshaking' | 'connected' | 'closed';

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
  /**
   * Resolves once the socket is gone: true when the client answered the WebSocket closing
   * handshake (so it had read everything written before the close), false when it went without.
   */
  readonly gone: Promise<boolean>;
  /** Messages queued since the last flush, written as one frame when the outbox flushes (or before a Close). */
  private queued: Buffer[] = [];
  private queuedBytes = 0;

  constructor(
    readonly id: string,
    readonly hub: string,
    readonly identity: TIdentity,
    readonly remoteAddress: string,
    private readonly socket: WebSocket,
    private readonly maxBufferedBytes: number,
    now: number,
    private readonly onSlow: () => void,
    private readonly outbox: Outbox,
  ) {
    this.openedAt = now;
    this.lastPeriodicAt = now;
    this.lastReceivedAt = now;
    this.lastSentAt = now;
    // 1006: closed without a closing handshake (reset, terminated, or the peer vanished).
    this.gone = new Promise((resolve) => socket.once('close', (code: number) => resolve(code !== 1006)));
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
      this.onSlow();
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
