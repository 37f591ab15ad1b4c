/**
 * A child process that holds a few thousand SignalR connections for the resource-bounds soak test
 * (one process may hold at most 20,000 open files, and the test's own process has other work).
 * Commands arrive over IPC; each is answered once it is done. Compiled on the fly (workers.ts).
 * Depends on nothing but `ws`: every connection is a bare WebSocket that does the MessagePack
 * handshake, pings every 10 s (the gateway closes a client silent for 30 s) and ignores the rest.
 */
import { WebSocket } from 'ws';

export interface WorkerClient {
  token: string;
  /** Source address of its TCP connections. */
  localAddress: string;
}

export type WorkerCommand =
  | { command: 'init'; url: string; clients: WorkerClient[] }
  /** Connects every client at once. */
  | { command: 'connect' }
  /** Drops every connection at once, without a closing handshake. */
  | { command: 'drop' }
  | { command: 'exit' };

export interface ConnectReport {
  connected: number;
  /**
   * Attempts whose TCP connection was reset before any HTTP answer and were tried again: the
   * kernel's accept queue (net.core.somaxconn) overflowed before the gateway could take them.
   */
  resets: number;
  /** Why each refused attempt failed (HTTP status, socket error, closed before the handshake answer). */
  refused: Record<string, number>;
  /** `Date.now()` when the command arrived, and when the last connection was answered. */
  startedAt: number;
  finishedAt: number;
}

export type WorkerReply =
  | { command: 'init' }
  | ({ command: 'connect' } & ConnectReport)
  | { command: 'drop'; dropped: number; closedByServer: number }
  | { command: 'exit' };

const HANDSHAKE = '{"protocol":"messagepack","version":1}\x1e';
const PING = Buffer.from([0x02, 0x91, 0x06]);
/**
 * A connection reset before any HTTP answer is tried again, as SignalR clients do (their
 * reconnect policy waits 0, 2, 10 and 30 s), after up to 2 s, at most this many times.
 */
const RESET_RETRIES = 5;
const RESET_CODES = new Set(['error-ECONNRESET', 'error-EPIPE', 'error-ECONNREFUSED']);
let resets = 0;

/** How long one connection may take, upgrade to handshake answer, before it counts as refused. */
const CONNECT_DEADLINE_MS = 120_000;

interface Connection {
  client: WorkerClient;
  socket: WebSocket | undefined;
  ready: boolean;
  dropping: boolean;
}

let url = '';
let connections: Connection[] = [];
/** Connections the server closed after their handshake was answered (never on purpose). */
let closedByServer = 0;

const pinger = setInterval(() => {
  for (const connection of connections) {
    if (connection.ready && connection.socket?.readyState === WebSocket.OPEN) connection.socket.send(PING);
  }
}, 10_000);

async function connectRetryingResets(connection: Connection): Promise<string | undefined> {
  for (let attempt = 0; ; attempt += 1) {
    const failure = await connect(connection);
    if (failure === undefined || !RESET_CODES.has(failure) || attempt === RESET_RETRIES) return failure;
    resets += 1;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 2000));
  }
}

function connect(connection: Connection): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${url}?access_token=${connection.client.token}`, {
      localAddress: connection.client.localAddress,
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_DEADLINE_MS,
    });
    connection.socket = socket;
    connection.ready = false;
    connection.dropping = false;
    let settled = false;
    const settle = (failure: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (failure !== undefined) socket.terminate();
      resolve(failure);
    };
    const timer = setTimeout(() => settle('no handshake answer in time'), CONNECT_DEADLINE_MS);
    socket.once('unexpected-response', (_request, response) => {
      response.resume();
      settle(`http-${response.statusCode}`);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => settle(`error-${error.code ?? error.message}`));
    socket.once('open', () => socket.send(HANDSHAKE));
    socket.once('message', (data: Buffer) => {
      if (data.subarray(0, 2).toString() === '{}') {
        connection.ready = true;
        settle(undefined);
      } else settle('handshake-refused');
    });
    socket.on('close', () => {
      if (connection.ready && !connection.dropping) closedByServer += 1;
      connection.ready = false;
      settle('closed-before-handshake-answer');
    });
  });
}

async function handle(message: WorkerCommand): Promise<WorkerReply> {
  switch (message.command) {
    case 'init':
      url = message.url;
      connections = message.clients.map((client) => ({
        client,
        socket: undefined,
        ready: false,
        dropping: false,
      }));
      return { command: 'init' };
    case 'connect': {
      const startedAt = Date.now();
      resets = 0;
      const results = await Promise.all(connections.map((connection) => connectRetryingResets(connection)));
      const refused: Record<string, number> = {};
      for (const failure of results)
        if (failure !== undefined) refused[failure] = (refused[failure] ?? 0) + 1;
      return {
        command: 'connect',
        connected: results.filter((failure) => failure === undefined).length,
        resets,
        refused,
        startedAt,
        finishedAt: Date.now(),
      };
    }
    case 'drop': {
      const gone: Promise<void>[] = [];
      for (const connection of connections) {
        const socket = connection.socket;
        if (!socket || socket.readyState === WebSocket.CLOSED) continue;
        connection.dropping = true;
        gone.push(new Promise((resolve) => socket.once('close', () => resolve())));
        socket.terminate();
      }
      await Promise.all(gone);
      return { command: 'drop', dropped: gone.length, closedByServer };
    }
    case 'exit':
      clearInterval(pinger);
      return { command: 'exit' };
  }
}

process.on('message', (message: WorkerCommand) => {
  void handle(message).then((reply) => {
    process.send!(reply);
    if (reply.command === 'exit') process.disconnect();
  });
});
