import { type WebSocket } from 'ws';

import { type HubMessage, type HubProtocol, MessageType } from '../protocol';

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

  constructor(
    readonly id: string,
    readonly hub: string,
    readonly identity: TIdentity,
    readonly remoteAddress: string,
    private readonly socket: WebSocket,
    private readonly maxBufferedBytes: number,
    now: number,
    private readonly onSlow: () => void,
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
    return this.socket.bufferedAmount;
  }

  get isOpen(): boolean {
    return this.state === 'connected';
  }

  /**
   * Writes bytes already encoded for this connection's protocol. A client that cannot keep up is
   * closed rather than buffered without bound. Returns false if nothing was written.
   */
  sendEncoded(data: Buffer, now: number): boolean {
    if (this.state !== 'connected') {
      return false;
    }
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.onSlow();
      return false;
    }
    this.socket.send(data, { binary: this.protocol?.transferFormat === 'binary' });
    this.lastSentAt = now;
    return true;
  }

  sendMessage(message: HubMessage, now: number): boolean {
    return this.protocol ? this.sendEncoded(this.protocol.writeMessage(message), now) : false;
  }

  /** Sends a SignalR Close (when the handshake is done) and closes the WebSocket. Idempotent. */
  close(reason: string, error?: string, allowReconnect?: boolean): void {
    if (this.state === 'closed') {
      return;
    }
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
