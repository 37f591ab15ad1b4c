/**
 * One load process: holds a share of the benchmark's connections (one process may hold at most
 * 20,000 open files) on bare WebSockets, speaking SignalR MessagePack or socket.io v4, and
 * measures each message's latency from the send time the feeder put in its payload
 * (`BenchSentAt`, ms since the epoch) to its receipt here. Commands arrive over IPC from
 * load-pool.ts; counts stream back every few milliseconds so the feeder can keep a bounded
 * number of messages in flight.
 */
import { Unpackr } from 'msgpackr';
import { type RawData, WebSocket } from 'ws';

import { framedMessages, HANDSHAKE, PING } from '@herald/testing';

import { LatencyHistogram } from '../report/histogram';
import {
  type ClientWire,
  type LoadClient,
  type LoadCommand,
  type LoadReply,
  type ParentMessage,
  type WorkerMessage,
} from './load-protocol';

/** How long one connection may take, upgrade to handshake answer, before it counts as refused. */
const CONNECT_DEADLINE_MS = 120_000;
/** Herald closes a client it has not heard from for 30 s. */
const PING_EVERY_MS = 10_000;
const REPORT_EVERY_MS = 10;
const RECEIVE_METHOD = 'ReceiveMessage';

interface Connection {
  client: LoadClient;
  socket: WebSocket | undefined;
  ready: boolean;
  dropping: boolean;
}

interface NotificationArgument {
  Payload?: { BenchSentAt?: unknown };
}

const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false });
const latency = new LatencyHistogram();
/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

let wire: ClientWire = 'signalr';
let url = '';
let connections: Connection[] = [];
let receivedSinceReport = 0;
let unexpectedSinceReport = 0;
const closedSinceReport = new Map<string, number>();

function send(message: WorkerMessage): void {
  if (process.connected) process.send!(message);
}

setInterval(() => {
  if (receivedSinceReport > 0 || unexpectedSinceReport > 0) {
    send({ event: 'received', count: receivedSinceReport, unexpected: unexpectedSinceReport });
    receivedSinceReport = 0;
    unexpectedSinceReport = 0;
  }
  for (const [reason, count] of closedSinceReport) send({ event: 'closed-by-server', count, reason });
  closedSinceReport.clear();
}, REPORT_EVERY_MS);

setInterval(() => {
  if (wire !== 'signalr') return; // socket.io's server pings, the client answers
  for (const connection of connections) {
    if (connection.ready && connection.socket?.readyState === WebSocket.OPEN) {
      connection.socket.send(PING.messagepack);
    }
  }
}, PING_EVERY_MS);

/** One notification received: counted, and its latency recorded from the send time in its payload. */
function notification(target: unknown, argument: unknown): void {
  const sentAt = (argument as NotificationArgument | undefined)?.Payload?.BenchSentAt;
  if (target !== RECEIVE_METHOD || typeof sentAt !== 'number') {
    unexpectedSinceReport += 1;
    return;
  }
  receivedSinceReport += 1;
  latency.record(now() - sentAt);
}

function onSignalRFrame(frame: Buffer): void {
  for (const body of framedMessages(frame)) {
    const message = unpackr.unpack(body) as unknown[];
    // Invocation: [1, headers, invocationId, target, arguments]. Pings [6] need no answer;
    // Herald's Heartbeat invocation (every 120 s) is not a notification.
    if (message[0] === 1 && message[3] !== 'Heartbeat') {
      notification(message[3], (message[4] as unknown[] | undefined)?.[0]);
    }
  }
}

function onSocketIoPacket(connection: Connection, packet: string): void {
  if (packet === '2') {
    connection.socket!.send('3'); // engine.io pong
  } else if (packet.startsWith('42')) {
    const [event, argument] = JSON.parse(packet.slice(2)) as [unknown, unknown];
    notification(event, argument);
  }
}

function closedByServer(reason: string): void {
  closedSinceReport.set(reason, (closedSinceReport.get(reason) ?? 0) + 1);
}

/** Opens one connection; resolves with why it failed, or undefined once the server answered the handshake. */
function open(connection: Connection): Promise<string | undefined> {
  return new Promise((resolve) => {
    const target =
      wire === 'signalr'
        ? `${url}?access_token=${connection.client.token}`
        : `${url}/socket.io/?EIO=4&transport=websocket`;
    const socket = new WebSocket(target, {
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
    socket.on('error', (error: NodeJS.ErrnoException) => settle(`error-${error.code ?? error.message}`));
    socket.once('open', () => {
      if (wire === 'signalr') socket.send(HANDSHAKE.messagepack);
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const frame = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
      if (connection.ready) {
        if (wire === 'signalr') {
          if (isBinary) onSignalRFrame(frame);
        } else {
          onSocketIoPacket(connection, frame.toString('utf8'));
        }
        return;
      }
      if (wire === 'signalr') {
        // `{}` then the record separator; anything else (an error) refuses the connection.
        const separator = frame.indexOf(0x1e);
        if (frame.subarray(0, separator).toString() !== '{}') return settle('handshake-refused');
        connection.ready = true;
        settle(undefined);
        if (separator + 1 < frame.length) onSignalRFrame(frame.subarray(separator + 1));
        return;
      }
      const packet = frame.toString('utf8');
      if (packet.startsWith('0')) {
        // engine.io open; then socket.io CONNECT to the main namespace with the token as auth.
        socket.send(`40${JSON.stringify({ token: connection.client.token })}`);
      } else if (packet.startsWith('40')) {
        connection.ready = true;
        settle(undefined);
      } else if (packet.startsWith('44')) {
        settle('connect-error');
      }
    });
    socket.on('close', (code: number) => {
      if (connection.ready && !connection.dropping) closedByServer(`close-${code}`);
      connection.ready = false;
      settle('closed-before-handshake-answer');
    });
  });
}

async function connectAll(concurrency: number): Promise<LoadReply> {
  const startedAt = Date.now();
  const pending = connections.filter((connection) => !connection.ready);
  const refused: Record<string, number> = {};
  let connected = 0;
  let refusedCount = 0;
  let next = 0;
  const progress = setInterval(() => send({ event: 'connecting', connected, refused: refusedCount }), 500);
  const lane = async () => {
    while (next < pending.length) {
      const failure = await open(pending[next++]!);
      if (failure === undefined) connected += 1;
      else {
        refusedCount += 1;
        refused[failure] = (refused[failure] ?? 0) + 1;
      }
    }
  };
  const lanes = concurrency > 0 ? Math.min(concurrency, pending.length) : pending.length;
  await Promise.all(Array.from({ length: lanes }, lane));
  clearInterval(progress);
  send({ event: 'connecting', connected, refused: refusedCount });
  return { command: 'connect', connected, refused, startedAt, finishedAt: Date.now() };
}

async function dropAll(): Promise<LoadReply> {
  const gone: Promise<void>[] = [];
  for (const connection of connections) {
    const socket = connection.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) continue;
    connection.dropping = true;
    connection.ready = false;
    gone.push(new Promise((resolve) => socket.once('close', () => resolve())));
    socket.terminate();
  }
  await Promise.all(gone);
  return { command: 'drop', dropped: gone.length };
}

async function handle(message: LoadCommand): Promise<LoadReply> {
  switch (message.command) {
    case 'init':
      wire = message.wire;
      url = message.url;
      connections = message.clients.map((client) => ({
        client,
        socket: undefined,
        ready: false,
        dropping: false,
      }));
      return { command: 'init' };
    case 'connect':
      return connectAll(message.concurrency);
    case 'drop':
      return dropAll();
    case 'latency-reset':
      latency.reset();
      return { command: 'latency-reset' };
    case 'latency-collect':
      return { command: 'latency-collect', ...latency.toSparse() };
  }
}

process.on('message', (message: ParentMessage) => {
  const { id } = message;
  void handle(message).then((reply) => send({ id, ...reply }));
});
// The parent is gone (even killed): nothing left to measure for.
process.on('disconnect', () => process.exit(0));
