import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server } from 'node:http';
import { type Duplex } from 'node:stream';

import { type Logger } from 'pino';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

import {
  HANDSHAKE_SUCCESS,
  handshakeErrorResponse,
  type HubProtocol,
  MessageType,
  parseHandshakeRequest,
  resolveHubProtocol,
  SignalRProtocolError,
} from '../protocol';
import { type ConnectionOwner, HubConnection } from './hub-connection';
import { CloseReason } from './close-reason';
import { DEFAULT_SIGNALR_OPTIONS, type HubDefinition, type SignalRServerOptions } from './hub-definition';
import { type NegotiateResponse, NegotiationRegistry } from './negotiation-registry';
import { Outbox } from './outbox';

/**
 * How long a shutdown waits for clients to answer the closing handshake: under the 5 s after which
 * a closing connection terminates itself, so the caller can act on the late ones first.
 */
const SHUTDOWN_GRACE_MS = 3000;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

type AnyHub = HubDefinition<unknown>;

/**
 * The server side of SignalR over WebSockets, with no knowledge of what the hubs are for: it takes
 * HTTP upgrades for the hubs' paths, asks each hub to authorize, runs the handshake, parses
 * inbound frames, enforces size limits, and keeps every connection alive or times it out with a
 * single timer for all connections.
 */
export class SignalRServer implements ConnectionOwner {
  private readonly hubs = new Map<string, AnyHub>();
  private readonly hubsByName = new Map<string, AnyHub>();
  private readonly connections = new Set<HubConnection<unknown>>();
  private readonly webSockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // Frames up to this size are read so that oversized ones get a SignalR Close with a reason;
    // anything larger is cut off by ws itself.
    maxPayload: 64 * 1024,
  });
  private readonly options: SignalRServerOptions;
  private readonly negotiations: NegotiationRegistry;
  private readonly closes = new Map<string, number>();
  private readonly outbox = new Outbox();
  /** A Ping encoded once per protocol: every keep-alive is the same bytes. */
  private readonly pings = new Map<HubProtocol, Buffer>();
  private timer: NodeJS.Timeout | undefined;
  private accepting = true;

  constructor(
    private readonly logger: Logger,
    options: Partial<SignalRServerOptions> = {},
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.options = { ...DEFAULT_SIGNALR_OPTIONS, ...options };
    this.negotiations = new NegotiationRegistry({
      ttlMs: this.options.negotiateTtlMs,
      maxPending: this.options.maxPendingNegotiations,
      maxPendingPerClient: this.options.maxPendingNegotiationsPerClient,
    });
  }

  addHub<TIdentity>(hub: HubDefinition<TIdentity>): void {
    this.hubsByName.set(hub.name, hub);
    for (const path of hub.paths) {
      this.hubs.set(path, hub);
    }
  }

  /** Takes over WebSocket upgrades of `server` and starts the keep-alive timer. */
  attach(server: Server): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.handleUpgrade(request, socket, head);
    });
    this.timer ??= setInterval(() => this.tick(), this.options.tickMs);
    this.timer.unref();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Open connections of one hub. */
  connectionsOf(hub: string): number {
    let count = 0;
    for (const connection of this.connections) if (connection.hub === hub) count += 1;
    return count;
  }

  /** Connections closed since start, by reason. */
  get closedByReason(): ReadonlyMap<string, number> {
    return this.closes;
  }

  /** Negotiated connection tokens not yet expired (waiting, or held by an open connection). */
  get pendingNegotiations(): number {
    return this.negotiations.size;
  }

  /** Every live connection, for hubs that act on all of them (drain, cluster-wide disconnect). */
  *liveConnections(): IterableIterator<HubConnection<unknown>> {
    yield* this.connections;
  }

  /** New upgrades and negotiations are refused with 503 from now on; open connections stay. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Stops taking new connections and closes every open one with a Close message; with
   * `allowReconnect`, clients are told to come back (to another gateway). Then waits, up to
   * `graceMs`, for every client to answer the WebSocket closing handshake: one that answered has
   * read everything written to it before the Close. Resolves with the connections that did not
   * (still open at the deadline, or gone without the handshake); those still open are dropped by
   * their own terminate timer, or by the caller's `terminate()` once it has acted on them.
   */
  async shutdown(
    reason: CloseReason,
    allowReconnect: boolean,
    graceMs = SHUTDOWN_GRACE_MS,
  ): Promise<HubConnection<unknown>[]> {
    this.accepting = false;
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    const open: HubConnection<unknown>[] = [...this.connections];
    for (const connection of open) {
      connection.close(reason, allowReconnect ? undefined : 'Server is shutting down.', allowReconnect);
    }
    this.webSockets.close();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const answered = await Promise.all(open.map((connection) => Promise.race([connection.gone, deadline])));
    clearTimeout(timer);
    return open.filter((_connection, index) => !answered[index]);
  }

  /**
   * Answers `POST <hub>/negotiate` (versions 0 and 1) for clients that do not skip it. The hub
   * authorizes the request exactly as it would the upgrade; only WebSockets is offered.
   */
  async negotiate(
    request: IncomingMessage,
  ): Promise<{ status: number; body: NegotiateResponse | { error: string } }> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const hub = this.hubs.get(url.pathname.replace(/\/+$/, '').replace(/\/negotiate$/, ''));
    if (!hub) return { status: 404, body: { error: 'no hub at this path' } };
    if (!this.accepting) return { status: 503, body: { error: 'shutting down' } };
    const result = await hub.authorize(request, url);
    if (!result.accept) return { status: result.status, body: { error: result.reason } };
    // The reservation is made again when the WebSocket arrives; negotiate holds none.
    result.release?.();
    const version = Number(url.searchParams.get('negotiateVersion') ?? '0');
    const negotiated = this.negotiations.negotiate(
      hub.name,
      Number.isInteger(version) && version > 0 ? 1 : 0,
      this.clock(),
      result.client ?? request.socket.remoteAddress ?? 'unknown',
    );
    if ('response' in negotiated) return { status: 200, body: negotiated.response };
    const error =
      negotiated.refused === 'client'
        ? 'too many pending negotiations from this client'
        : 'too many pending negotiations';
    return { status: 429, body: { error } };
  }

  private async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', destroySocket);
    // Listened to until the WebSocket takes the socket over: a client may reset while it is being
    // authorized, and whatever the authorizer reserved must still be released. From then on the
    // connection releases it when its socket closes.
    const early: { closed: boolean; release?: () => void } = { closed: false };
    const onEarlyClose = (): void => {
      early.closed = true;
      early.release?.();
    };
    socket.once('close', onEarlyClose);
    const url = new URL(request.url ?? '/', 'http://localhost');
    const hub = this.hubs.get(url.pathname.replace(/\/+$/, ''));
    if (!hub) {
      return rejectUpgrade(socket, 404, 'no hub at this path');
    }
    if (!this.accepting) {
      return rejectUpgrade(socket, 503, 'shutting down');
    }
    let result;
    try {
      result = await hub.authorize(request, url);
    } catch (error) {
      this.logger.error({ err: error, hub: hub.name }, 'authorization failed unexpectedly');
      return rejectUpgrade(socket, 500, 'internal error');
    }
    if (!result.accept) {
      this.logger.info(
        { hub: hub.name, status: result.status, reason: result.reason, remote: request.socket.remoteAddress },
        'upgrade refused',
      );
      return rejectUpgrade(socket, result.status, result.reason);
    }
    const release = result.release;
    if (early.closed) {
      release?.();
      return;
    }
    // A negotiated client names its connection with `id`; one that skipped negotiate does not.
    const token = url.searchParams.get('id');
    let connectionId = randomBytes(16).toString('base64url');
    if (token !== null) {
      const claim = this.negotiations.claim(hub.name, token, this.clock());
      if (!claim.ok) {
        release?.();
        this.logger.info({ hub: hub.name, status: claim.status, reason: claim.reason }, 'upgrade refused');
        return rejectUpgrade(socket, claim.status, claim.reason);
      }
      connectionId = claim.connectionId;
    }
    early.release = () => {
      release?.();
      if (token !== null) this.negotiations.release(token);
    };
    const identity = result.identity;
    // The callback must not hold the request: it would keep its headers and URL alive for as long
    // as the connection lives.
    const remoteAddress = request.socket.remoteAddress ?? 'unknown';
    this.webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      socket.removeListener('close', onEarlyClose);
      const connection: HubConnection<unknown> = new HubConnection(
        connectionId,
        hub.name,
        identity,
        remoteAddress,
        webSocket,
        this.options.maxBufferedBytes,
        this.clock(),
        this,
        this.outbox,
      );
      connection.release = release;
      connection.negotiationToken = token;
      this.connections.add(connection);
    });
  }

  /** For the connection's socket: one frame from its client. */
  frameReceived(connection: HubConnection<unknown>, webSocket: WebSocket, data: RawData): void {
    const frame = toBuffer(data);
    connection.lastReceivedAt = this.clock();
    if (frame.length > this.options.maxFrameBytes) {
      this.closeConnection(
        connection,
        CloseReason.FrameTooLarge,
        `Frame of ${frame.length} bytes exceeds the ${this.options.maxFrameBytes}-byte limit.`,
      );
      return;
    }
    if (connection.state === 'connected') {
      this.onFrame(connection, frame);
      return;
    }
    if (connection.state === 'closed') return;
    // Frames that arrive while the hub sets the connection up wait, in order, up to one frame's
    // worth of bytes.
    if (connection.heldFrames) {
      connection.heldBytes += frame.length;
      if (connection.heldBytes > this.options.maxFrameBytes) {
        this.closeConnection(
          connection,
          CloseReason.ProtocolViolation,
          `More than ${this.options.maxFrameBytes} bytes arrived before the handshake was answered.`,
        );
        return;
      }
      connection.heldFrames.push(frame);
      return;
    }
    const received = connection.handshakeBytes;
    const handshake = received === undefined ? frame : Buffer.concat([received, frame]);
    const remaining = this.readHandshake(connection, webSocket, handshake);
    if (remaining === undefined) {
      connection.handshakeBytes = handshake;
      return;
    }
    connection.handshakeBytes = undefined;
    connection.heldFrames = remaining.length > 0 ? [remaining] : [];
    connection.heldBytes = remaining.length;
    const hub = this.hubsByName.get(connection.hub)!;
    void this.completeHandshake(hub, connection, webSocket).then(() => {
      const held = connection.heldFrames ?? [];
      connection.heldFrames = undefined;
      connection.heldBytes = 0;
      for (const queued of held) {
        if (connection.state !== 'connected') break;
        this.onFrame(connection, queued);
      }
    });
  }

  /** For the connection's socket: it closed with this WebSocket close code. */
  socketClosed(connection: HubConnection<unknown>, code: number): void {
    this.connections.delete(connection);
    // 1006: the socket ended without a WebSocket Close (a network drop, a killed client, or
    // the ws layer cutting off a client with more than 60 pings waiting for their pongs).
    connection.markClosed(code === 1006 ? CloseReason.ConnectionLost : CloseReason.ClientClosed);
    connection.socketClosed(code);
    const reason = connection.closeReason ?? CloseReason.ClientClosed;
    this.closes.set(reason, (this.closes.get(reason) ?? 0) + 1);
    const release = connection.release;
    connection.release = undefined;
    release?.();
    if (connection.negotiationToken !== null) {
      this.negotiations.release(connection.negotiationToken);
      connection.negotiationToken = null;
    }
    // The hub hears of the close only after its own setup finished, so it never sees a
    // disconnect before the connect it belongs to.
    const hub = this.hubsByName.get(connection.hub)!;
    void connection.setup?.then(
      () => hub.onDisconnected(connection),
      () => undefined,
    );
    this.logger.debug(
      { connectionId: connection.id, hub: hub.name, reason: connection.closeReason },
      'connection closed',
    );
  }

  /** For the connection's socket: a transport error (the close follows). */
  socketFailed(connection: HubConnection<unknown>, error: Error): void {
    this.logger.debug({ err: error, connectionId: connection.id }, 'socket error');
    connection.markClosed(CloseReason.TransportError);
  }

  /** For the connection: its client cannot keep up. */
  slowConsumer(connection: HubConnection<unknown>): void {
    this.closeConnection(connection, CloseReason.SlowConsumer, 'Client is too slow to receive messages.');
  }

  /**
   * Parses the buffered handshake. Returns the bytes that followed it once it is complete and its
   * protocol supported (the protocol is then set on the connection); undefined while incomplete or
   * after refusing it.
   */
  private readHandshake(
    connection: HubConnection<unknown>,
    webSocket: WebSocket,
    data: Buffer,
  ): Buffer | undefined {
    let parsed;
    try {
      parsed = parseHandshakeRequest(data);
    } catch (error) {
      this.failHandshake(
        connection,
        webSocket,
        error instanceof SignalRProtocolError ? error.message : 'Invalid handshake.',
      );
      return undefined;
    }
    if (!parsed) {
      if (data.length > this.options.maxFrameBytes) {
        this.failHandshake(connection, webSocket, 'Handshake is too large.');
      }
      return undefined;
    }
    const protocol = resolveHubProtocol(parsed.request);
    if (!protocol) {
      const { protocol: name, version } = parsed.request;
      this.failHandshake(
        connection,
        webSocket,
        `The protocol '${name}' version ${version} is not supported.`,
      );
      return undefined;
    }
    connection.protocol = protocol;
    return parsed.remaining;
  }

  /** Lets the hub set the connection up, then answers the handshake; the client is connected from then on. */
  private async completeHandshake(
    hub: AnyHub,
    connection: HubConnection<unknown>,
    webSocket: WebSocket,
  ): Promise<void> {
    try {
      connection.setup = hub.onConnected(connection);
      await connection.setup;
    } catch (error) {
      this.logger.error({ err: error, connectionId: connection.id }, 'hub could not set up the connection');
      this.failHandshake(connection, webSocket, 'The server could not set up the connection.');
      return;
    }
    if (connection.state !== 'handshaking' || webSocket.readyState !== WebSocket.OPEN) {
      return;
    }
    // Same frame type as the protocol's messages: text for JSON, binary for MessagePack.
    webSocket.send(HANDSHAKE_SUCCESS, { binary: connection.protocol?.transferFormat === 'binary' });
    connection.state = 'connected';
    connection.lastSentAt = this.clock();
    hub.onReady?.(connection);
  }

  private failHandshake(connection: HubConnection<unknown>, webSocket: WebSocket, message: string): void {
    this.logger.info({ connectionId: connection.id, reason: message }, 'handshake refused');
    if (webSocket.readyState === WebSocket.OPEN) {
      webSocket.send(handshakeErrorResponse(message), { binary: false });
    }
    connection.close(CloseReason.HandshakeFailed);
  }

  private onFrame(connection: HubConnection<unknown>, frame: Buffer): void {
    let messages;
    try {
      messages = connection.protocol!.parseMessages(frame, this.options.maxMessageBytes);
    } catch (error) {
      const tooLarge = error instanceof SignalRProtocolError && error.code === 'too-large';
      this.closeConnection(
        connection,
        tooLarge ? CloseReason.MessageTooLarge : CloseReason.ProtocolViolation,
        error instanceof Error ? error.message : 'Invalid message.',
      );
      return;
    }
    for (const message of messages) {
      switch (message.type) {
        case MessageType.Close:
          connection.close(CloseReason.ClientClosed);
          return;
        case MessageType.Invocation:
        case MessageType.StreamInvocation:
          // These hubs expose no methods to clients; answer blocking calls so they do not hang.
          if (message.invocationId !== undefined) {
            connection.sendMessage(
              {
                type: MessageType.Completion,
                invocationId: message.invocationId,
                error: `Unknown hub method '${message.target}'`,
              },
              this.clock(),
            );
          }
          break;
        default:
          // Pings (and anything else a client may send) only count as a sign of life.
          break;
      }
    }
  }

  private closeConnection(connection: HubConnection<unknown>, reason: CloseReason, error: string): void {
    if (connection.state === 'closed') return;
    this.logger.info(
      { connectionId: connection.id, hub: connection.hub, reason, error },
      'closing connection',
    );
    connection.close(reason, error, false);
  }

  /** The one keep-alive timer: handshake timeouts, client timeouts and server pings. */
  private tick(): void {
    const now = this.clock();
    this.negotiations.expire(now);
    for (const connection of this.connections) {
      if (connection.state === 'handshaking') {
        // Covers both a handshake that never arrives and a hub setup that never finishes.
        if (now - connection.openedAt >= this.options.handshakeTimeoutMs) {
          this.closeConnection(
            connection,
            CloseReason.HandshakeTimeout,
            connection.protocol === undefined
              ? 'Handshake was not received in time.'
              : 'The connection was not set up in time.',
          );
        }
        continue;
      }
      if (connection.state !== 'connected') continue;
      if (now - connection.lastReceivedAt >= this.options.clientTimeoutMs) {
        this.closeConnection(
          connection,
          CloseReason.ClientTimeout,
          'Server timeout elapsed without receiving a message from the client.',
        );
        continue;
      }
      const periodic = this.hubsByName.get(connection.hub)?.periodicInvocation;
      if (periodic && now - connection.lastPeriodicAt >= periodic.intervalMs) {
        connection.lastPeriodicAt = now;
        connection.sendMessage({ type: MessageType.Invocation, target: periodic.target, arguments: [] }, now);
      } else if (now - connection.lastSentAt >= this.options.keepAliveIntervalMs) {
        const protocol = connection.protocol!;
        let ping = this.pings.get(protocol);
        if (ping === undefined) {
          ping = protocol.writeMessage({ type: MessageType.Ping });
          this.pings.set(protocol, ping);
        }
        connection.sendEncoded(ping, now);
      }
    }
  }
}

/** The error listener of every upgrading socket (shared: no closure per socket). */
function destroySocket(this: Duplex): void {
  this.destroy();
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function rejectUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = JSON.stringify({ error: reason });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
