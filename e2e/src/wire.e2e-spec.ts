import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Unpackr } from 'msgpackr';

import {
  deleteNamespace,
  eventually,
  HubClient,
  RawSocket,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
  framedMessages,
  HANDSHAKE,
  upgradeStatus,
} from '@herald/testing';

const MSGPACK_HANDSHAKE = HANDSHAKE.messagepack;
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false });

/** What the gateway writes, byte for byte, and what it refuses, on the real processes. */
describe('the gateway on the wire', () => {
  const namespace = testNamespace('wire');
  let issuer: TestIssuer;
  let gateway: ServiceProcess;
  let dispatcher: ServiceProcess;
  const sockets: RawSocket[] = [];
  const clients: HubClient[] = [];

  const ws = () => gateway.url.replace('http', 'ws');
  const open = async (path: string, headers?: Record<string, string>) => {
    const socket = await RawSocket.open(`${ws()}${path}`, headers);
    sockets.push(socket);
    return socket;
  };
  const openHub = async (userId = randomUUID()) => {
    const socket = await open(
      `/notifications/hub?access_token=${encodeURIComponent(await issuer.userToken(userId))}`,
    );
    socket.send(MSGPACK_HANDSHAKE);
    await socket.waitForFrames(1);
    return socket;
  };

  const send = async (body: unknown) => {
    const response = await fetch(`${gateway.url}/send`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await issuer.internalToken()}`,
      },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
  };

  /** The hub messages of every frame after the handshake reply, decoded. */
  const messagesOf = (socket: RawSocket) =>
    socket.frames
      .slice(1)
      .flatMap((frame) => framedMessages(frame.data))
      .map((message) => unpackr.unpack(message) as unknown[]);

  beforeAll(async () => {
    issuer = await TestIssuer.create();
    const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
    [dispatcher, gateway] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('gateway', {
        ...env,
        HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
        HERALD_ANONYMOUS_CONNECTIONS_PER_IP: '3',
        HERALD_CONNECTIONS_PER_USER: '2',
        HERALD_TRUSTED_PROXIES: '127.0.0.1',
        // Small enough that a slow consumer's backlog (over 1 MiB of 30 KB events) always exceeds it.
        HERALD_REPLAY_MAX_MESSAGES: '20',
      }),
    ]);
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all(clients.map((client) => client.stop()));
    await Promise.all([gateway?.stop(), dispatcher?.stop()]);
    await deleteNamespace(namespace);
  });

  it('answers the handshake with 7B 7D 1E and writes ReceiveMessage as [1, {}, nil, "ReceiveMessage", [map]]', async () => {
    const userId = randomUUID();
    const socket = await openHub(userId);
    expect(socket.frames[0]!.data.toString('hex')).toBe('7b7d1e');
    const cipherId = randomUUID();
    const response = await fetch(`${gateway.url}/send`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await issuer.internalToken()}`,
      },
      body: JSON.stringify({
        type: 1,
        payload: { id: cipherId, userId, revisionDate: '2026-11-23T10:00:00.5Z' },
        contextId: 'ctx',
      }),
    });
    expect(response.status).toBe(200);
    const frame = (await socket.waitForFrames(2))[1]!;
    expect(frame.binary).toBe(true);
    const message = framedMessages(frame.data)[0]!;
    // fixarray(5), 1, empty map, nil, fixstr(14) "ReceiveMessage", fixarray(1), fixmap(3)
    expect(message.subarray(0, 21).toString('hex')).toBe(
      `950180c0ae${Buffer.from('ReceiveMessage').toString('hex')}9183`,
    );
    // The date is the timestamp extension -1 (here the 64-bit form: it has nanoseconds).
    expect(message.includes(Buffer.from([0xd7, 0xff]))).toBe(true);
    expect(unpackr.unpack(message)).toEqual([
      1,
      {},
      null,
      'ReceiveMessage',
      [
        {
          ContextId: 'ctx',
          Type: 1,
          Payload: { Id: cipherId, UserId: userId, RevisionDate: new Date('2026-11-23T10:00:00.5Z') },
        },
      ],
    ]);
  });

  it('pings with 02 91 06 when it has sent nothing for 15 s', async () => {
    const socket = await openHub();
    const ping = (await socket.waitForFrames(2, 20_000))[1]!;
    expect(ping.data.toString('hex')).toBe('029106');
  }, 30_000);

  it('closes with a Close message carrying an error on a protocol violation', async () => {
    const socket = await openHub();
    socket.send(Buffer.from([0x03, 0x93, 0xc1, 0xc1]));
    await socket.waitForClose();
    const close = framedMessages(socket.frames.at(-1)!.data).map(
      (message) => unpackr.unpack(message) as unknown[],
    );
    expect(close[0]![0]).toBe(7);
    expect(close[0]![1]).toEqual(expect.any(String));
  });

  it('closes with a Close message on an inbound frame over 4096 bytes', async () => {
    const socket = await openHub();
    socket.send(Buffer.alloc(4097, 0x90));
    await socket.waitForClose();
    const close = framedMessages(socket.frames.at(-1)!.data).map(
      (message) => unpackr.unpack(message) as unknown[],
    )[0]!;
    expect(close).toEqual([7, expect.stringContaining('4096'), ...(close.length > 2 ? [false] : [])]);
  });

  it('answers 401, 404 and 409 on the upgrade', async () => {
    expect(await upgradeStatus(`${gateway.url}/notifications/hub`)).toBe(401);
    expect(await upgradeStatus(`${gateway.url}/notifications/nothing-here`)).toBe(404);
    const token = await issuer.userToken(randomUUID());
    const negotiated = (await (
      await fetch(`${gateway.url}/notifications/hub/negotiate?negotiateVersion=1`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      })
    ).json()) as { connectionToken: string };
    const first = await open(`/notifications/hub?id=${negotiated.connectionToken}&access_token=${token}`);
    expect(first.closed).toBe(false);
    expect(
      await upgradeStatus(
        `${gateway.url}/notifications/hub?id=${negotiated.connectionToken}&access_token=${token}`,
      ),
    ).toBe(409);
    expect(await upgradeStatus(`${gateway.url}/notifications/hub?id=unknown&access_token=${token}`)).toBe(
      404,
    );
  });

  it('negotiates for the real client on both hubs', async () => {
    const userId = randomUUID();
    const client = await HubClient.connect(`${gateway.url}/hub`, {
      token: await issuer.userToken(userId),
      skipNegotiation: false,
      protocol: 'json',
    });
    clients.push(client);
    expect(client.connection.connectionId).toEqual(expect.any(String));
    const anonymous = await HubClient.connect(`${gateway.url}/anonymous-hub?Token=${randomUUID()}`, {
      skipNegotiation: false,
    });
    clients.push(anonymous);
    await anonymous.stop();
  });

  it('limits anonymous connections per client IP, honouring X-Forwarded-For only from trusted proxies', async () => {
    const anonymous = (ip?: string) =>
      upgradeStatus(
        `${gateway.url}/notifications/anonymous-hub?Token=${randomUUID()}`,
        ip ? { 'X-Forwarded-For': ip } : {},
      );
    const held = await Promise.all(
      [1, 2, 3].map(() =>
        open(`/anonymous-hub?Token=${randomUUID()}`, { 'X-Forwarded-For': '198.51.100.7' }),
      ),
    );
    expect(await anonymous('198.51.100.7')).toBe(429);
    // Another client behind the same (trusted) proxy has its own allowance.
    expect(await anonymous('198.51.100.8')).toBe(101);
    held[0]!.close();
    await held[0]!.waitForClose();
    // The place the closed connection held is free again.
    await eventually(async () => expect(await anonymous('198.51.100.7')).toBe(101));
    expect(await upgradeStatus(`${gateway.url}/anonymous-hub?Token=not-a-guid`)).toBe(400);
  });

  it('limits connections per user', async () => {
    const userId = randomUUID();
    await openHub(userId);
    await openHub(userId);
    expect(await upgradeStatus(`${gateway.url}/hub?access_token=${await issuer.userToken(userId)}`)).toBe(
      429,
    );
    expect(
      await upgradeStatus(`${gateway.url}/hub?access_token=${await issuer.userToken(randomUUID())}`),
    ).toBe(101);
  });

  it('closes a client that stops reading as a slow consumer, and sends it a SyncVault for the backlog when it reconnects', async () => {
    const userId = randomUUID();
    const token = await issuer.userToken(userId, { device: randomUUID() });
    const path = `/notifications/hub?access_token=${encodeURIComponent(token)}`;
    const slow = await open(path);
    slow.send(MSGPACK_HANDSHAKE);
    await slow.waitForFrames(1);
    slow.pause();
    // It still pings while it does not read: it is slow, not silent.
    const pinger = setInterval(() => slow.send(Buffer.from([0x02, 0x91, 0x06])), 250);
    const slowCloses = () =>
      gateway.logs.filter((line) => line.msg === 'closing connection' && line.reason === 'slow-consumer');
    const padding = 'x'.repeat(30_000);
    const ids: string[] = [];
    let flooding = true;
    const flood = (async () => {
      // About 30 KB per event, until the gateway gives up on the client (bounded, so that a
      // gateway without the limit fails the wait below instead of flooding for ever).
      while (flooding && ids.length < 2000) {
        const batch = Array.from({ length: 10 }, () => randomUUID());
        ids.push(...batch);
        await Promise.all(
          batch.map((id) =>
            send({ type: 8, payload: { id, userId, revisionDate: new Date().toISOString(), padding } }),
          ),
        );
      }
    })();
    try {
      await eventually(() => expect(slowCloses()).toHaveLength(1), { timeoutMs: 90_000, intervalMs: 10 });
    } finally {
      slow.resume();
      clearInterval(pinger);
      flooding = false;
      await flood;
    }
    await slow.waitForClose();
    // What was queued reaches the client, then a Close with the documented reason.
    const received = messagesOf(slow);
    const close = received.at(-1)!;
    expect(close.slice(0, 2)).toEqual([7, 'Client is too slow to receive messages.']);
    const read = received
      .filter((message) => message[0] === 1)
      .map((message) => (message[4] as { Payload: { Id: string } }[])[0]!.Payload.Id);
    // More than 1 MiB was queued for it when it was closed, and it never read all of it.
    expect(ids.length * padding.length).toBeGreaterThan(1024 * 1024);
    expect(read.length).toBeLessThan(ids.length);

    // Back within the replay window: the backlog since the oldest watermark (every event of the
    // flood, far above HERALD_REPLAY_MAX_MESSAGES) becomes one SyncVault, then live traffic: the
    // last flood events still on their way, and the marker (a SyncSettings).
    const again = await open(path);
    again.send(MSGPACK_HANDSHAKE);
    await again.waitForFrames(1);
    const markerContext = `marker-${randomUUID()}`;
    await send({ type: 10, payload: { userId, date: new Date().toISOString() }, contextId: markerContext });
    await eventually(() =>
      expect(messagesOf(again).some((message) => JSON.stringify(message).includes(markerContext))).toBe(true),
    );
    const notifications = messagesOf(again)
      .filter((message) => message[0] === 1)
      .map((message) => (message[4] as { Type: number; Payload: { Id?: string; UserId: string } }[])[0]!);
    expect(notifications[0]).toMatchObject({ Type: 5, Payload: { UserId: userId } });
    expect(notifications.at(-1)).toMatchObject({ Type: 10, ContextId: markerContext });
    const live = notifications.slice(1, -1);
    expect(live.filter((message) => message.Type !== 8 || !ids.includes(message.Payload.Id!))).toEqual([]);
    // The gateway's log lines travel through its stdout, behind the frames: wait for the line.
    await eventually(() =>
      expect(
        gateway.logs.filter((line) => line.userId === userId && /SyncVault|replay|sync/.test(line.msg)),
      ).toContainEqual(
        expect.objectContaining({ msg: 'sent SyncVault instead of a replay', userId, reason: 'too-many' }),
      ),
    );
  }, 120_000);

  describe('with HERALD_CONNECTIONS_PER_IP=3', () => {
    let limited: ServiceProcess;

    beforeAll(async () => {
      limited = await ServiceProcess.start('gateway', {
        HERALD_NATS_URL: TEST_NATS_URL,
        HERALD_NAMESPACE: namespace,
        HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
        HERALD_CONNECTIONS_PER_IP: '3',
      });
    });

    afterAll(async () => {
      expect(await limited?.stop()).toBe(0);
    });

    it('counts both hubs per client address: 429 before the upgrade past the limit, and a freed place admits exactly one more', async () => {
      const hubPath = async () =>
        `/notifications/hub?access_token=${encodeURIComponent(await issuer.userToken(randomUUID()))}`;
      const anonymousPath = () => `/notifications/anonymous-hub?Token=${randomUUID()}`;
      const ws = limited.url.replace('http', 'ws');
      const hold = async (path: string) => {
        const socket = await RawSocket.open(`${ws}${path}`);
        sockets.push(socket);
        return socket;
      };
      const held = [await hold(await hubPath()), await hold(await hubPath()), await hold(anonymousPath())];
      // Both hubs share the address's three places: either is refused, with no upgrade.
      expect(await upgradeStatus(`${limited.url}${await hubPath()}`)).toBe(429);
      expect(await upgradeStatus(`${limited.url}${anonymousPath()}`)).toBe(429);
      held[0]!.close();
      await held[0]!.waitForClose();
      // The freed place admits one new connection (once the gateway has seen the close)…
      const path = await hubPath();
      await eventually(() => hold(path));
      // …and only one: the address is at its limit again.
      expect(await upgradeStatus(`${limited.url}${await hubPath()}`)).toBe(429);
      expect(await upgradeStatus(`${limited.url}${anonymousPath()}`)).toBe(429);
    });
  });
});
