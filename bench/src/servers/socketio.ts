/**
 * The Socket.IO baseline: what a Node team would build instead of Herald. Socket.IO 4.8 with
 * `@socket.io/redis-adapter` on the local Redis (so that several nodes could share rooms), the
 * token verified (ES256, the same key Herald trusts) in a middleware that also joins the
 * socket's rooms (its user and organizations) and subscribes to their NATS delivery subjects;
 * each delivery becomes `io.to(room).emit('ReceiveMessage', message)`. Clients speak socket.io's
 * own protocol (JSON packets), not SignalR: Socket.IO is the alternative, not a compatible server.
 *
 * Not done, as a first version would not: connection limits, replay, presence, metrics. Pings,
 * timeouts and per-socket buffering are Socket.IO's own (ping every 25 s, timeout 20 s).
 */
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';

import { createAdapter } from '@socket.io/redis-adapter';
import { importSPKI, jwtVerify } from 'jose';
import { connect } from 'nats';
import { createClient } from 'redis';
import { Server } from 'socket.io';

import { deliveryCodec } from '@herald/contracts';

import { baselineEnvironment, GroupSubscriptions, groupsOfClaims, serveHarness } from './baseline-support';

async function main(): Promise<void> {
  const environment = baselineEnvironment();
  const nats = await connect({ servers: environment.natsUrl, name: 'herald-bench-socketio' });
  const publisher = createClient({ url: environment.redisUrl });
  const subscriber = publisher.duplicate();
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const key = await importSPKI(environment.publicKey, 'ES256');

  const server = createServer();
  const io = new Server(server, {
    adapter: createAdapter(publisher, subscriber),
    transports: ['websocket'],
    serveClient: false,
  });
  const groups = new GroupSubscriptions<string>(nats, environment.namespace, (room, _members, data) => {
    const delivery = deliveryCodec.decode(data);
    io.to(room).emit(delivery.method, delivery.message);
  });

  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string') return next(new Error('unauthorized'));
    jwtVerify(token, key, { algorithms: ['ES256'] })
      .then(async ({ payload }) => {
        const memberOf = groupsOfClaims(payload);
        if (!memberOf) throw new Error('no subject');
        await socket.join(memberOf.map((group) => GroupSubscriptions.roomOf(group)));
        for (const group of memberOf) groups.join(group, socket.id);
        socket.once('disconnect', () => {
          for (const group of memberOf) groups.leave(group, socket.id);
        });
        // Connected (CONNECT answered) only once the rooms' traffic flows, as Herald and the floor do.
        await groups.flushed();
        next();
      })
      .catch(() => next(new Error('unauthorized')));
  });

  server.listen({ host: '127.0.0.1', port: 0, backlog: 8192 }, () =>
    serveHarness((server.address() as AddressInfo).port, () => io.engine.clientsCount),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`socketio: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
