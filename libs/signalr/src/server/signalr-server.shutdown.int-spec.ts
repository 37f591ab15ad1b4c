import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { eventually, RawSocket } from '@herald/testing';

import { CloseReason } from './close-reason';
import { type HubConnection } from './hub-connection';
import { SignalRServer } from './signalr-server';

const JSON_HANDSHAKE = Buffer.from('{"protocol":"json","version":1}\x1e');

/**
 * A shutdown waits for each client to answer the WebSocket closing handshake (proof that it read
 * everything written before the Close) and names those that did not, so the gateway can record
 * them conservatively before their sockets are dropped.
 */
describe('SignalRServer shutdown', () => {
  let http: Server;
  let server: SignalRServer;
  let url: string;
  const connected: HubConnection<string>[] = [];

  beforeAll(async () => {
    http = createServer((_request, response) => response.writeHead(404).end());
    server = new SignalRServer(pino({ level: 'silent' }), { tickMs: 50 });
    server.addHub<string>({
      name: 'hub',
      paths: ['/hub'],
      authorize: (request) =>
        Promise.resolve({ accept: true as const, identity: String(request.headers['x-id']) }),
      onConnected: (connection) => {
        connected.push(connection);
        return Promise.resolve();
      },
      onDisconnected: () => undefined,
    });
    server.attach(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/hub`;
  });

  afterAll(async () => {
    await new Promise((resolve) => http.close(resolve));
  });

  it('resolves with exactly the connections whose client did not answer the close in time', async () => {
    const open = async (id: string) => {
      const socket = await RawSocket.open(url, { 'x-id': id });
      socket.send(JSON_HANDSHAKE);
      await socket.waitForFrames(1);
      return socket;
    };
    const [reading, stalled] = await Promise.all([open('reading'), open('stalled')]);
    await eventually(() =>
      expect(connected.map((connection) => connection.identity).sort()).toEqual(['reading', 'stalled']),
    );
    stalled.pause();

    const unconfirmed = await server.shutdown(CloseReason.ServerShutdown, true, 1000);

    expect(unconfirmed.map((connection) => connection.identity)).toEqual(['stalled']);
    // The one that answered got the SignalR Close (with allowReconnect) before its socket closed.
    expect(reading.closed).toBe(true);
    expect(reading.frames.at(-1)?.data.toString()).toBe('{"type":7,"allowReconnect":true}\x1e');
    expect(stalled.closed).toBe(false);
    for (const connection of unconfirmed) connection.terminate();
    stalled.resume();
    await eventually(() => expect(stalled.closed).toBe(true));
  });
});
