import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect as connectTcp } from 'node:net';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { WebSocket } from 'ws';

import { eventually } from '@herald/testing';

import { JsonHubProtocol, MessagePackHubProtocol, MessageType, type HubMessage } from '../protocol';
import { CloseReason } from './close-reason';
import { type HubConnection } from './hub-connection';
import { SignalRServer } from './signalr-server';

const MSGPACK_HANDSHAKE = Buffer.from('{"protocol":"messagepack","version":1}\x1e');
const JSON_HANDSHAKE = Buffer.from('{"protocol":"json","version":1}\x1e');
const msgpack = new MessagePackHubProtocol();

interface Frame {
  data: Buffer;
  binary: boolean;
}

/** A raw WebSocket client that records every frame, to assert bytes on the wire. */
class RawClient {
  readonly frames: Frame[] = [];
  closed = false;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, binary) => this.frames.push({ data, binary }));
    socket.on('close', () => (this.closed = true));
  }

  static open(url: string, headers: Record<string, string> = { 'x-test': 'ok' }): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.once('open', () => resolve(new RawClient(socket)));
      socket.once('unexpected-response', (_request, response) =>
        reject(new Error(`HTTP ${response.statusCode}`)),
      );
      socket.once('error', reject);
    });
  }

  send(data: Buffer, binary = true): void {
    this.socket.send(data, { binary });
  }

  messages(): HubMessage[] {
    return this.frames.slice(1).flatMap((frame) => msgpack.parseMessages(frame.data));
  }
}

describe('SignalRServer on the wire', () => {
  const logger = pino({ level: 'silent' });
  let http: Server;
  let server: SignalRServer;
  let url: string;
  const connected: HubConnection<string>[] = [];
  const disconnected: HubConnection<string>[] = [];
  const clients: RawClient[] = [];
  let setupGate: Promise<void> = Promise.resolve();
  let setupsStarted = 0;
  let slowAuthorize: { started: number; gate: Promise<void>; releases: number } = {
    started: 0,
    gate: Promise.resolve(),
    releases: 0,
  };

  const open = async (path = '/hub', headers?: Record<string, string>) => {
    const client = await RawClient.open(`${url}${path}`, headers);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    http = createServer((_request, response) => response.writeHead(404).end());
    // Short enough for the timer tests to run in seconds, long enough that a busy CI machine that
    // stalls this process for a second does not close connections under the other tests.
    server = new SignalRServer(logger, {
      keepAliveIntervalMs: 1000,
      clientTimeoutMs: 3000,
      handshakeTimeoutMs: 1500,
      tickMs: 50,
    });
    server.addHub<string>({
      name: 'hub',
      paths: ['/hub', '/notifications/hub'],
      authorize: (request) =>
        Promise.resolve(
          request.headers['x-test'] === 'ok'
            ? { accept: true as const, identity: String(request.headers['x-id'] ?? 'user-1') }
            : { accept: false as const, status: 401, reason: 'no token' },
        ),
      onConnected: async (connection) => {
        setupsStarted += 1;
        await setupGate;
        connected.push(connection);
      },
      onDisconnected: (connection) => disconnected.push(connection),
    });
    server.addHub<string>({
      name: 'slow-authorize',
      paths: ['/slow-authorize'],
      authorize: async () => {
        slowAuthorize.started += 1;
        await slowAuthorize.gate;
        return {
          accept: true as const,
          identity: 'slow',
          release: () => (slowAuthorize.releases += 1),
        };
      },
      onConnected: () => Promise.resolve(),
      onDisconnected: () => undefined,
    });
    server.attach(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.socket.terminate();
    setupGate = Promise.resolve();
  });

  afterAll(async () => {
    await server.shutdown(CloseReason.ServerShutdown, false);
    await new Promise((resolve) => http.close(resolve));
  });

  it('answers a MessagePack handshake with exactly 7B 7D 1E in a binary frame', async () => {
    const client = await open();
    client.send(MSGPACK_HANDSHAKE, false);
    await eventually(() => expect(client.frames.length).toBeGreaterThanOrEqual(1));
    expect(client.frames[0]!.data.toString('hex')).toBe('7b7d1e');
    expect(client.frames[0]!.binary).toBe(true);
  });

  it('answers a JSON handshake with {} and the record separator in a text frame', async () => {
    const client = await open('/notifications/hub');
    client.send(JSON_HANDSHAKE, false);
    await eventually(() => expect(client.frames.length).toBeGreaterThanOrEqual(1));
    expect(client.frames[0]).toEqual({ data: Buffer.from('{}\x1e'), binary: false });
  });

  it('reads messages that follow the handshake in the same frame', async () => {
    const client = await open();
    client.send(
      Buffer.concat([
        MSGPACK_HANDSHAKE,
        msgpack.writeMessage({
          type: MessageType.Invocation,
          invocationId: '7',
          target: 'Nope',
          arguments: [],
        }),
      ]),
    );
    const completion = await eventually(() => {
      const found = client.messages().find((message) => message.type === MessageType.Completion);
      if (!found) throw new Error('no completion yet');
      return found;
    });
    expect(completion).toMatchObject({
      type: MessageType.Completion,
      invocationId: '7',
      error: "Unknown hub method 'Nope'",
    });
  });

  it('answers the handshake only after the hub has set the connection up', async () => {
    let release!: () => void;
    setupGate = new Promise((resolve) => (release = resolve));
    const started = setupsStarted;
    const client = await open();
    client.send(MSGPACK_HANDSHAKE);
    // A Ping from the client while the hub is still busy is queued, not mistaken for a handshake.
    client.send(Buffer.from([0x02, 0x91, 0x06]));
    await eventually(() => expect(setupsStarted).toBeGreaterThan(started));
    // A blocking invocation sent now is answered after the reply, never before it.
    client.send(
      msgpack.writeMessage({
        type: MessageType.Invocation,
        invocationId: 'queued',
        target: 'Nope',
        arguments: [],
      }),
    );
    release();
    await eventually(() =>
      expect(client.messages()).toContainEqual(expect.objectContaining({ invocationId: 'queued' })),
    );
    expect(client.frames[0]!.data.toString('hex')).toBe('7b7d1e');
    expect(client.closed).toBe(false);
  });

  it('sends no handshake reply while the hub is still setting the connection up', async () => {
    let release!: () => void;
    setupGate = new Promise((resolve) => (release = resolve));
    const started = setupsStarted;
    const tooLarge = () => server.closedByReason.get(CloseReason.FrameTooLarge) ?? 0;
    const closesBefore = tooLarge();
    const client = await open('/hub', { 'x-test': 'ok', 'x-id': 'still-setting-up' });
    client.send(MSGPACK_HANDSHAKE);
    await eventually(() => expect(setupsStarted).toBeGreaterThan(started));
    // The server answers this oversized frame by closing the socket. A reply written before it
    // would arrive first (one socket, in order): the close proves no reply was sent before it.
    client.send(Buffer.alloc(5000, 0x01));
    await eventually(() => expect(client.closed).toBe(true));
    expect(client.frames).toEqual([]);
    // The hub hears of the close once its setup has finished, never before: the server has
    // counted the close, and the hub has not been told.
    await eventually(() => expect(tooLarge()).toBe(closesBefore + 1));
    expect(disconnected.some((connection) => connection.identity === 'still-setting-up')).toBe(false);
    release();
    await eventually(() =>
      expect(
        disconnected
          .filter((connection) => connection.identity === 'still-setting-up')
          .map((c) => c.closeReason),
      ).toEqual(['frame-too-large']),
    );
  });

  it('releases what the authorizer reserved when the client resets while it is authorized', async () => {
    let letThrough!: () => void;
    slowAuthorize = {
      started: 0,
      gate: new Promise((resolve) => (letThrough = resolve)),
      releases: 0,
    };
    const port = (http.address() as AddressInfo).port;
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(
      'GET /slow-authorize HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await eventually(() => expect(slowAuthorize.started).toBe(1));
    socket.resetAndDestroy();
    await new Promise((resolve) => socket.once('close', resolve));
    letThrough();
    await eventually(() => expect(slowAuthorize.releases).toBe(1));
  });

  it('bounds the frames queued while the hub sets the connection up', async () => {
    setupGate = new Promise(() => undefined);
    const started = setupsStarted;
    const client = await open();
    client.send(MSGPACK_HANDSHAKE);
    await eventually(() => expect(setupsStarted).toBeGreaterThan(started));
    const ping = Buffer.from([0x02, 0x91, 0x06]);
    for (let i = 0; i < 4000; i += 1) client.send(ping);
    await eventually(() => expect(client.closed).toBe(true));
    expect(client.frames).toEqual([]);
  });

  it('closes a connection whose setup does not finish within the handshake timeout', async () => {
    setupGate = new Promise(() => undefined);
    const timeouts = () => server.closedByReason.get(CloseReason.HandshakeTimeout) ?? 0;
    const before = timeouts();
    const started = setupsStarted;
    const client = await open();
    client.send(MSGPACK_HANDSHAKE);
    await eventually(() => expect(setupsStarted).toBeGreaterThan(started));
    await eventually(() => expect(client.closed).toBe(true), { timeoutMs: 8000 });
    expect(client.frames).toEqual([]);
    expect(timeouts()).toBe(before + 1);
  });

  it('refuses an unsupported protocol with an error reply and closes', async () => {
    const client = await open();
    client.send(Buffer.from('{"protocol":"xml","version":1}\x1e'), false);
    await eventually(() => expect(client.closed).toBe(true));
    const reply = client.frames[0]!.data.toString();
    expect(reply.endsWith('\x1e')).toBe(true);
    const body = JSON.parse(reply.slice(0, -1)) as Record<string, unknown>;
    expect(body.error).toMatch(/not supported/);
    expect(body).not.toHaveProperty('type');
  });

  it('closes a connection whose handshake does not arrive in time', async () => {
    const client = await open();
    await eventually(() => expect(client.closed).toBe(true), { timeoutMs: 8000 });
    expect(client.frames).toHaveLength(0);
  });

  it('pings a silent client with 02 91 06 and closes it after the client timeout with a Close message', async () => {
    const client = await open();
    client.send(MSGPACK_HANDSHAKE);
    await eventually(
      () => expect(client.frames.some((frame) => frame.data.toString('hex') === '029106')).toBe(true),
      { timeoutMs: 8000 },
    );
    await eventually(() => expect(client.closed).toBe(true), { timeoutMs: 8000 });
    const last = client.messages().at(-1);
    expect(last).toEqual({
      type: MessageType.Close,
      error: 'Server timeout elapsed without receiving a message from the client.',
    });
    await eventually(() =>
      expect(disconnected.some((connection) => connection.closeReason === 'client-timeout')).toBe(true),
    );
  });

  it('keeps a client that pings open past the client timeout', async () => {
    const client = await open();
    client.send(MSGPACK_HANDSHAKE);
    // The client pings every 200 ms (its own cadence); the server must not close it for 4.5 s,
    // well past the 3 s client timeout. A duration is the assertion here, not a wait for an outcome.
    const pinger = setInterval(() => client.send(Buffer.from([0x02, 0x91, 0x06])), 200);
    await new Promise((resolve) => setTimeout(resolve, 4500));
    clearInterval(pinger);
    expect(client.closed).toBe(false);
    expect(client.frames[0]!.data.toString('hex')).toBe('7b7d1e');
  });

  it('closes a client that stops reading once more than 1 MiB is queued for it, saying why in a Close message', async () => {
    const limit = 1024 * 1024;
    const client = await open('/hub', { 'x-test': 'ok', 'x-id': 'slow-reader' });
    client.send(MSGPACK_HANDSHAKE);
    await eventually(() => expect(client.frames.length).toBeGreaterThanOrEqual(1));
    const connection = connected.find((candidate) => candidate.identity === 'slow-reader')!;
    client.socket.pause();
    const chunk = msgpack.writeMessage({
      type: MessageType.Invocation,
      target: 'ReceiveMessage',
      arguments: ['x'.repeat(60_000)],
    });
    // The operating system takes a few MiB before anything queues in the process; the bound makes
    // a server without the limit fail here instead of buffering without end.
    let accepted = 0;
    let queuedWhenRefused: number | undefined;
    while (accepted * chunk.length < 64 * limit) {
      const queued = connection.bufferedBytes;
      if (!connection.sendEncoded(chunk, performance.now())) {
        queuedWhenRefused = queued;
        break;
      }
      // Every write is taken while no more than the limit is queued.
      expect(queued).toBeLessThanOrEqual(limit);
      accepted += 1;
    }
    expect(queuedWhenRefused).toBeGreaterThan(limit);
    expect(connection.closeReason).toBe(CloseReason.SlowConsumer);
    client.socket.resume();
    await eventually(() => expect(client.closed).toBe(true));
    // Everything taken before the refusal reaches the client, then the Close with the reason.
    const messages = client.messages();
    expect(messages.filter((message) => message.type === MessageType.Invocation)).toHaveLength(accepted);
    expect(messages.at(-1)).toEqual({
      type: MessageType.Close,
      error: 'Client is too slow to receive messages.',
    });
    await eventually(() =>
      expect(
        disconnected
          .filter((candidate) => candidate.identity === 'slow-reader')
          .map((candidate) => candidate.closeReason),
      ).toEqual([CloseReason.SlowConsumer]),
    );
  });

  it('closes with an error on a frame over 4096 bytes', async () => {
    const client = await open();
    client.send(MSGPACK_HANDSHAKE);
    await eventually(() => expect(client.frames.length).toBeGreaterThanOrEqual(1));
    client.send(Buffer.alloc(5000, 0x01));
    await eventually(() => expect(client.closed).toBe(true));
    expect(client.messages().at(-1)).toMatchObject({
      type: MessageType.Close,
      error: expect.stringMatching(/4096-byte limit/),
    });
  });

  it('closes with an error on a message over 2048 bytes', async () => {
    const client = await open();
    client.send(MSGPACK_HANDSHAKE);
    await eventually(() => expect(client.frames.length).toBeGreaterThanOrEqual(1));
    client.send(
      msgpack.writeMessage({ type: MessageType.Invocation, target: 'x', arguments: ['y'.repeat(3000)] }),
    );
    await eventually(() => expect(client.closed).toBe(true));
    expect(client.messages().at(-1)).toMatchObject({ type: MessageType.Close, error: expect.any(String) });
  });

  it('closes with an error on malformed MessagePack', async () => {
    const client = await open();
    client.send(MSGPACK_HANDSHAKE);
    await eventually(() => expect(client.frames.length).toBeGreaterThanOrEqual(1));
    client.send(Buffer.from([0x05, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1]));
    await eventually(() => expect(client.closed).toBe(true));
    expect(client.messages().at(-1)).toMatchObject({ type: MessageType.Close, error: expect.any(String) });
  });

  it('closes when the client sends Close', async () => {
    const client = await open();
    client.send(Buffer.concat([MSGPACK_HANDSHAKE, Buffer.from([0x02, 0x92, 0x07, 0xc0])]));
    await eventually(() => expect(client.closed).toBe(true));
  });

  it('counts a client that closes properly as client-closed, and one whose socket just ends as connection-lost', async () => {
    const count = (reason: CloseReason) => server.closedByReason.get(reason) ?? 0;
    const before = { closed: count(CloseReason.ClientClosed), lost: count(CloseReason.ConnectionLost) };
    const polite = await open();
    polite.send(MSGPACK_HANDSHAKE);
    await eventually(() => expect(polite.frames).toHaveLength(1));
    polite.socket.close(1000);
    await eventually(() => expect(count(CloseReason.ClientClosed)).toBe(before.closed + 1));
    const dropped = await open();
    dropped.send(MSGPACK_HANDSHAKE);
    await eventually(() => expect(dropped.frames).toHaveLength(1));
    dropped.socket.terminate();
    await eventually(() => expect(count(CloseReason.ConnectionLost)).toBe(before.lost + 1));
    expect(count(CloseReason.ClientClosed)).toBe(before.closed + 1);
  });

  it('refuses the upgrade with the hub’s status, and 404 for other paths', async () => {
    await expect(RawClient.open(`${url}/hub`, {})).rejects.toThrow('HTTP 401');
    await expect(RawClient.open(`${url}/elsewhere`)).rejects.toThrow('HTTP 404');
  });

  it('writes JSON messages as text frames', async () => {
    const client = await open('/hub', { 'x-test': 'ok', 'x-id': 'json-writer' });
    client.send(JSON_HANDSHAKE, false);
    const connection = await eventually(() => {
      const found = connected.find((candidate) => candidate.identity === 'json-writer');
      if (!found) throw new Error('not connected yet');
      return found;
    });
    await eventually(() => expect(client.frames.length).toBeGreaterThanOrEqual(1));
    connection.sendMessage(
      { type: MessageType.Invocation, target: 'ReceiveMessage', arguments: [{ Type: 0 }] },
      performance.now(),
    );
    const json = new JsonHubProtocol();
    const frame = await eventually(() => {
      const found = client.frames
        .slice(1)
        .find((candidate) => json.parseMessages(candidate.data)[0]?.type === MessageType.Invocation);
      if (!found) throw new Error('no invocation yet');
      return found;
    });
    expect(frame.binary).toBe(false);
    expect(json.parseMessages(frame.data)).toEqual([
      { type: MessageType.Invocation, target: 'ReceiveMessage', arguments: [{ Type: 0 }] },
    ]);
  });

  it('writes the messages queued together as one frame, in order, and what was queued before a Close before it', async () => {
    const client = await open('/hub', { 'x-test': 'ok', 'x-id': 'coalesced' });
    client.send(MSGPACK_HANDSHAKE);
    const connection = await eventually(() => {
      const found = connected.find((candidate) => candidate.identity === 'coalesced');
      if (!found) throw new Error('not connected yet');
      return found;
    });
    await eventually(() => expect(client.frames).toHaveLength(1));
    const invocation = (n: number): HubMessage => ({
      type: MessageType.Invocation,
      target: 'ReceiveMessage',
      arguments: [{ Type: 0, N: n }],
    });
    for (const n of [1, 2, 3]) connection.sendMessage(invocation(n), performance.now());
    await eventually(() => expect(client.frames).toHaveLength(2));
    expect(msgpack.parseMessages(client.frames[1]!.data)).toEqual([1, 2, 3].map(invocation));
    // Queued in the same turn as the Close: written first, then the Close, nothing lost.
    connection.sendMessage(invocation(4), performance.now());
    connection.close(CloseReason.Disconnected, 'bye', false);
    await eventually(() => expect(client.closed).toBe(true));
    expect(client.messages().slice(3)).toEqual([invocation(4), { type: MessageType.Close, error: 'bye' }]);
  });
});
