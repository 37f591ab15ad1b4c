import { type IncomingMessage } from 'node:http';

import { type HubConnection } from './hub-connection';

export type AuthorizeResult<TIdentity> =
  | {
      accept: true;
      identity: TIdentity;
      /**
       * Called exactly once when the connection this authorization admitted is gone, or when it
       * never came to be (the upgrade failed, or this was a negotiate request): frees whatever the
       * hub reserved for it, such as a place under a connection limit.
       */
      release?: () => void;
      /**
       * Who the request comes from, as the hub counts clients (e.g. its address as read behind
       * trusted proxies): pending negotiations are capped per client. Default: the peer address.
       */
      client?: string;
    }
  | { accept: false; status: number; reason: string };

/** What a hub tells the server about itself; the server does everything SignalR. */
export interface HubDefinition<TIdentity> {
  /** Name used in logs and metrics. */
  name: string;
  /** Exact request paths (without query) that upgrade to this hub. */
  paths: string[];
  /** Decides before the upgrade; a refusal is answered with its HTTP status and no upgrade. */
  authorize(request: IncomingMessage, url: URL): Promise<AuthorizeResult<TIdentity>>;
  /**
   * After a valid handshake and before its reply: the client counts as connected once the reply
   * arrives, so whatever it must receive from then on has to be set up here (subscriptions).
   */
  onConnected(connection: HubConnection<TIdentity>): Promise<void>;
  /** After the handshake reply went out: what the client should get first (e.g. a replay). */
  onReady?(connection: HubConnection<TIdentity>): void;
  onDisconnected(connection: HubConnection<TIdentity>): void;
  /** An invocation without arguments sent to every connection at this interval (Bitwarden's `Heartbeat`). */
  periodicInvocation?: { target: string; intervalMs: number };
}

export interface SignalRServerOptions {
  /** Send a Ping when nothing was sent for this long (SignalR default 15 s). */
  keepAliveIntervalMs: number;
  /** Close a client that sent nothing for this long (SignalR default 30 s). */
  clientTimeoutMs: number;
  /** Close a connection whose handshake has not arrived by then (15 s). */
  handshakeTimeoutMs: number;
  /** Largest WebSocket frame accepted from a client (Bitwarden: 4096). */
  maxFrameBytes: number;
  /** Largest single hub message accepted from a client (Bitwarden: 2048). */
  maxMessageBytes: number;
  /** Outbound bytes queued on one socket before the client counts as too slow and is closed. */
  maxBufferedBytes: number;
  /** Resolution of the one timer that drives handshake timeouts, pings and client timeouts. */
  tickMs: number;
  /** How long a negotiated connection token may wait for its WebSocket. */
  negotiateTtlMs: number;
  /** Negotiated tokens kept at once (waiting, or held by an open connection); more are refused with 429. */
  maxPendingNegotiations: number;
  /** Negotiated tokens one client may have waiting (not yet claimed by a WebSocket); more are refused with 429. */
  maxPendingNegotiationsPerClient: number;
}

export const DEFAULT_SIGNALR_OPTIONS: SignalRServerOptions = {
  keepAliveIntervalMs: 15_000,
  clientTimeoutMs: 30_000,
  handshakeTimeoutMs: 15_000,
  maxFrameBytes: 4096,
  maxMessageBytes: 2048,
  maxBufferedBytes: 1024 * 1024,
  tickMs: 1000,
  negotiateTtlMs: 30_000,
  maxPendingNegotiations: 10_000,
  maxPendingNegotiationsPerClient: 100,
};
