import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpTransportType, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { MessagePackHubProtocol as ClientMessagePackProtocol } from '@microsoft/signalr-protocol-msgpack';
import { pino } from 'pino';
import { WebSocket } from 'ws';

import { eventually } from '@herald/testing';

import { MessagePackHubProtocol, MessageType } from '../protocol';
import { CloseReason } from './close-reason';
import { SignalRServer } from './signalr-server';

const HANDSHAKE = Buffer.from('{"protocol":"messagepack","version":1}\x1e');

describe('SignalRServer negotiate, periodic invocations and admission', () => {
  let http: Server;
  let server: SignalRServer;
  let base: string;
  /** Admissions and releases of requests whose URL carries `tag=<tag>`, so a test counts only its own. */
  const tagged = new Map<string, { admitted: number; released: number }>();
  const tally = (tag: string) => {
    let counts = tagged.get(tag);
    if (!counts) tagged.set(tag, (counts = { admitted: 0, released: 0 }));
    return counts;
  };

  const negotiate = async (query = '') => {
    const response = await fetch(`${base}/hub/negotiate${query}`, {
      method: 'POST',
      headers: { 'x-test': 'ok' },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const upgrade = (path: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(`${base.replace('http', 'ws')}${path}`, { headers: { 'x-test': 'ok' } });
      socket.once('open', () => resolve(socket));
      socket.once('unexpected-response', (_request, response) =>
        reject(new Error(`HTTP ${response.statusCode}`)),
      );
      socket.once('error', reject);
    });

  beforeAll(async () => {
    server = new SignalRServer(pino({ level: 'silent' }), { tickMs: 50, negotiateTtlMs: 2000 });
    server.addHub<string>({
      name: 'hub',
      paths: ['/hub'],
      authorize: (request: IncomingMessage) => {
        const authorized =
          request.headers['x-test'] === 'ok' ||
          request.headers.authorization === 'Bearer ok' ||
          request.url?.includes('access_token=ok');
        if (!authorized) {
          return Promise.resolve({ accept: false as const, status: 401, reason: 'no' });
        }
        const counts = tally(new URL(request.url ?? '/', 'http://localhost').searchParams.get('tag') ?? '');
        counts.admitted += 1;
        return Promise.resolve({
          accept: true as const,
          identity: 'someone',
          release: () => {
            counts.released += 1;
          },
        });
      },
      onConnected: () => Promise.resolve(),
      onDisconnected: () => undefined,
      periodicInvocation: { target: 'Heartbeat', intervalMs: 200 },
    });
    http = createServer((request, response) => {
      void server.negotiate(request).then(({ status, body }) => {
        response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    server.attach(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await server.shutdown(CloseReason.ServerShutdown, false);
    await new Promise((resolve) => http.close(resolve));
  });

  it('answers negotiate version 1 with a connection token and WebSockets in both formats', async () => {
    const { status, body } = await negotiate('?negotiateVersion=1');
    expect(status).toBe(200);
    expect(body).toEqual({
      negotiateVersion: 1,
      connectionId: expect.any(String),
      connectionToken: expect.any(String),
      availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text', 'Binary'] }],
    });
    expect(body.connectionToken).not.toBe(body.connectionId);
  });

  it('answers negotiate version 0 without a separate token', async () => {
    const { body } = await negotiate();
    expect(body).not.toHaveProperty('connectionToken');
    expect(body).not.toHaveProperty('negotiateVersion');
    await upgrade(`/hub?id=${String(body.connectionId)}`).then((socket) => socket.terminate());
  });

  it('refuses negotiate without authorization, and holds no reservation for it', async () => {
    const response = await fetch(`${base}/hub/negotiate?negotiateVersion=1`, { method: 'POST' });
    expect(response.status).toBe(401);
    await negotiate('?negotiateVersion=1&tag=refused-negotiate');
    // Admitted once, and released before the answer came back.
    expect(tally('refused-negotiate')).toEqual({ admitted: 1, released: 1 });
  });

  it('lets a negotiated token open one WebSocket: 409 while it is open, 404 once it closed or if unknown', async () => {
    const { body } = await negotiate('?negotiateVersion=1');
    const token = String(body.connectionToken);
    const socket = await upgrade(`/hub?id=${token}`);
    await expect(upgrade(`/hub?id=${token}`)).rejects.toThrow('HTTP 409');
    socket.close();
    await eventually(() => expect(server.connectionCount).toBe(0));
    await expect(upgrade(`/hub?id=${token}`)).rejects.toThrow('HTTP 404');
    await expect(upgrade('/hub?id=never-issued')).rejects.toThrow('HTTP 404');
  });

  it('forgets tokens that were never used', async () => {
    await eventually(() => expect(server.pendingNegotiations).toBe(0), { timeoutMs: 8000 });
    const { body } = await negotiate('?negotiateVersion=1');
    expect(server.pendingNegotiations).toBe(1);
    await eventually(() => expect(server.pendingNegotiations).toBe(0), { timeoutMs: 8000 });
    await expect(upgrade(`/hub?id=${String(body.connectionToken)}`)).rejects.toThrow('HTTP 404');
  });

  it('serves the real client when it negotiates', async () => {
    const connection = new HubConnectionBuilder()
      .withUrl(`${base}/hub`, { transport: HttpTransportType.WebSockets, accessTokenFactory: () => 'ok' })
      .configureLogging(LogLevel.None)
      .build();
    const heartbeats: unknown[][] = [];
    connection.on('Heartbeat', (...args: unknown[]) => heartbeats.push(args));
    await connection.start();
    expect(connection.connectionId).toEqual(expect.any(String));
    await eventually(() => expect(heartbeats.length).toBeGreaterThanOrEqual(2), { timeoutMs: 3000 });
    expect(heartbeats[0]).toEqual([]);
    await connection.stop();
  });

  it.each(['json', 'messagepack'])(
    'delivers several messages written in one turn (one frame) to the real client in order (%s)',
    async (protocol) => {
      const builder = new HubConnectionBuilder()
        .withUrl(`${base}/hub`, { transport: HttpTransportType.WebSockets, accessTokenFactory: () => 'ok' })
        .configureLogging(LogLevel.None);
      const client = (
        protocol === 'messagepack' ? builder.withHubProtocol(new ClientMessagePackProtocol()) : builder
      ).build();
      const received: unknown[] = [];
      client.on('ReceiveMessage', (message: { N: number }) => received.push(message.N));
      await client.start();
      const connection = [...server.liveConnections()].find(
        (candidate) => candidate.id === client.connectionId,
      );
      expect(connection).toBeDefined();
      for (let n = 1; n <= 50; n += 1) {
        connection!.sendMessage(
          { type: MessageType.Invocation, target: 'ReceiveMessage', arguments: [{ N: n }] },
          performance.now(),
        );
      }
      await eventually(() => expect(received).toHaveLength(50));
      expect(received).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
      await client.stop();
    },
  );

  it('sends the periodic invocation without arguments, as a non-blocking invocation', async () => {
    const socket = await upgrade('/hub');
    const frames: Buffer[] = [];
    socket.on('message', (data: Buffer) => frames.push(data));
    socket.send(HANDSHAKE);
    const protocol = new MessagePackHubProtocol();
    await eventually(
      () =>
        expect(frames.slice(1).flatMap((frame) => protocol.parseMessages(frame))).toContainEqual({
          type: MessageType.Invocation,
          target: 'Heartbeat',
          arguments: [],
        }),
      { timeoutMs: 3000 },
    );
    socket.terminate();
  });

  it('releases every admission exactly once, whether the connection opened or not', async () => {
    const tag = 'tag=summary';
    const counts = tally('summary');
    // 1: a negotiation, released before its answer.
    const { body } = await negotiate(`?negotiateVersion=1&${tag}`);
    // 2: a connection that opens and closes.
    const plain = await upgrade(`/hub?${tag}`);
    plain.close();
    // 3: the negotiated connection; 4: a second upgrade with its token, refused after admission.
    const negotiated = await upgrade(`/hub?id=${String(body.connectionToken)}&${tag}`);
    await expect(upgrade(`/hub?id=${String(body.connectionToken)}&${tag}`)).rejects.toThrow('HTTP 409');
    negotiated.terminate();
    // 5: an upgrade with a token never issued, refused after admission.
    await expect(upgrade(`/hub?id=never-issued&${tag}`)).rejects.toThrow('HTTP 404');
    await eventually(() => expect(counts).toEqual({ admitted: 5, released: 5 }));
    // A later connection's release is the marker: no second release of the five came before it.
    const marker = await upgrade(`/hub?${tag}`);
    marker.terminate();
    await eventually(() => expect(counts.released).toBeGreaterThanOrEqual(6));
    expect(counts).toEqual({ admitted: 6, released: 6 });
  }, 15_000);
});
