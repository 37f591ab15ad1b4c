import { type SparseCounts } from '../report/histogram';

/** How the load generator's connections talk to the server under test. */
export type ClientWire =
  /** SignalR MessagePack over a bare WebSocket, token in `access_token` (Herald, the ws floor). */
  | 'signalr'
  /** engine.io v4 / socket.io v4 over a bare WebSocket, token in the CONNECT packet's auth. */
  | 'socketio';

export interface LoadClient {
  token: string;
  /** Source address of its TCP connection: spreading clients over 127.x addresses keeps ephemeral ports apart. */
  localAddress: string;
}

export interface ConnectResult {
  connected: number;
  /** Why each refused attempt failed: HTTP status, socket error, closed or refused before the handshake answer. */
  refused: Record<string, number>;
  /** `Date.now()` when the command arrived and when the last attempt was settled. */
  startedAt: number;
  finishedAt: number;
}

export interface LatencySnapshot {
  counts: SparseCounts;
  sum: number;
  max: number;
}

/** Parent → worker; each is answered once with a reply of the same `command` and `id`. */
export type LoadCommand =
  | { command: 'init'; wire: ClientWire; url: string; clients: LoadClient[] }
  /** Opens every connection, at most `concurrency` handshakes at once (0: all at once). */
  | { command: 'connect'; concurrency: number }
  /** Drops every connection at once, without a closing handshake (clients that vanished). */
  | { command: 'drop' }
  /** Starts a fresh latency histogram. */
  | { command: 'latency-reset' }
  | { command: 'latency-collect' };

export type LoadReply =
  | { command: 'init' }
  | ({ command: 'connect' } & ConnectResult)
  | { command: 'drop'; dropped: number }
  | { command: 'latency-reset' }
  | ({ command: 'latency-collect' } & LatencySnapshot);

/** Worker → parent, unasked. */
export type LoadEvent =
  /** Messages received since the last event (sent every few ms while traffic flows). */
  | { event: 'received'; count: number; unexpected: number }
  | { event: 'connecting'; connected: number; refused: number }
  /** A connection the server closed after its handshake was answered (never asked for). */
  | { event: 'closed-by-server'; count: number; reason: string };

export type WorkerMessage = ({ id: number } & LoadReply) | LoadEvent;
export type ParentMessage = { id: number } & LoadCommand;

/** Which of its groups a message reached a real client through. */
export type ReceivedVia = 'user' | 'organization' | 'everyone';

export interface RealClientSpec {
  userId: string;
  token: string;
  organizationIds: string[];
}

/** Parent → the real clients' process. */
export type RealCommand =
  | { command: 'connect'; wire: ClientWire; url: string; specs: RealClientSpec[]; everyoneId: string }
  | { command: 'counts' }
  | { command: 'stop' };

export type RealReply =
  | { command: 'connect'; error?: string }
  /** What each client got, by group, and every problem seen so far. */
  | { command: 'counts'; counts: Record<ReceivedVia, number>[]; problems: string[] }
  | { command: 'stop' };
