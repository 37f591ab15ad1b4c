/**
 * The `ws` floor: the least a SignalR notification server on Node must do, to measure Herald
 * against. Same URL shape as Herald's hub (`/hub?access_token=…` or a bearer header), the MessagePack handshake,
 * one NATS subscription per group held, and for each delivery ONE encoded Invocation written to
 * every member socket; one timer pings every socket every 15 s.
 *
 * Deliberately not done (Herald does all of it): the token's signature, expiry and policy are
 * not checked (its claims are only read for the groups); no connection limits; no client
 * timeout; client messages after the handshake are not parsed; no hub or client-type filter; no
 * dedupe, replay, presence, heartbeats, metrics or logs; no slow-consumer limit; no graceful drain.
 */
import { createServer } from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';

import { Packr } from 'msgpackr';
import { connect } from 'nats';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

import { deliveryCodec } from '@herald/contracts';

import {
  baselineEnvironment,
  GroupSubscriptions,
  groupsOfClaims,
  type GroupRef,
  serveHarness,
  unverifiedClaims,
} from './baseline-support';

const HUB_PATHS = new Set(['/hub', '/notifications/hub']);
const PING = Buffer.from([0x02, 0x91, 0x06]);
const HANDSHAKE_ANSWER = '{}\x1e';
const PING_EVERY_MS = 15_000;
/** Standard MessagePack only (timestamps for dates, no msgpackr records), as SignalR clients read it. */
const packr = new Packr({ useRecords: false, variableMapSize: true, moreTypes: false });

/** `[1, {}, null, target, [argument]]` behind its VarInt length: a SignalR MessagePack Invocation. */
function invocationFrame(target: string, argument: unknown): Buffer {
  const body = packr.pack([1, {}, null, target, [argument]]);
  const prefix: number[] = [];
  let length = body.length;
  do {
    let byte = length & 0x7f;
    length >>>= 7;
    if (length > 0) byte |= 0x80;
    prefix.push(byte);
  } while (length > 0);
  return Buffer.concat([Buffer.from(prefix), body]);
}

async function main(): Promise<void> {
  const environment = baselineEnvironment();
  const nats = await connect({ servers: environment.natsUrl, name: 'herald-bench-ws-floor' });
  const ready = new Set<WebSocket>();
  const groups = new GroupSubscriptions<WebSocket>(nats, environment.namespace, (_room, members, data) => {
    const delivery = deliveryCodec.decode(data);
    const frame = invocationFrame(delivery.method, delivery.message);
    // A member whose handshake is still being answered must not get a frame before the answer.
    for (const socket of members) if (ready.has(socket)) socket.send(frame);
  });

  const webSockets = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096 });
  const server = createServer((_request, response) => response.writeHead(404).end());
  server.on('upgrade', (request, socket: Socket, head) => {
    const url = new URL(request.url ?? '/', 'http://floor');
    // As Herald: `Authorization: Bearer` (what @microsoft/signalr sends on Node), else the query.
    const bearer = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const token = bearer ?? url.searchParams.get('access_token');
    const memberOf = groupsOfClaims(unverifiedClaims(token) ?? {});
    if (!HUB_PATHS.has(url.pathname) || !memberOf) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    webSockets.handleUpgrade(request, socket, head, (webSocket) => accept(webSocket, memberOf));
  });

  function accept(socket: WebSocket, memberOf: GroupRef[]): void {
    let joined = false;
    socket.once('message', (data: RawData) => {
      const text = (Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[])).toString('utf8');
      let request: { protocol?: unknown; version?: unknown } = {};
      try {
        request = JSON.parse(text.slice(0, text.indexOf('\x1e'))) as typeof request;
      } catch {
        // answered below as an unsupported protocol
      }
      if (request.protocol !== 'messagepack' || request.version !== 1) {
        socket.close(1002, 'unsupported protocol');
        return;
      }
      for (const group of memberOf) groups.join(group, socket);
      joined = true;
      void groups.flushed().then(() => {
        if (socket.readyState !== WebSocket.OPEN) return;
        socket.send(HANDSHAKE_ANSWER);
        ready.add(socket);
      });
    });
    socket.on('close', () => {
      ready.delete(socket);
      if (joined) for (const group of memberOf) groups.leave(group, socket);
    });
    socket.on('error', () => socket.terminate());
  }

  setInterval(() => {
    for (const socket of ready) socket.send(PING);
  }, PING_EVERY_MS);

  // The same accept backlog as Herald's gateway, so that a storm meets the same kernel queue.
  server.listen({ host: '127.0.0.1', port: 0, backlog: 8192 }, () =>
    serveHarness((server.address() as AddressInfo).port, () => ready.size),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`ws-floor: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
