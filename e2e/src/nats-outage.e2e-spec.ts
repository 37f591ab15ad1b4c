import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from 'nats';

import { type GatewayHeartbeat, natsNames, PushType } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  eventually,
  HubClient,
  type LogLine,
  NatsServerProcess,
  ServiceProcess,
  TcpProxy,
  TestIssuer,
  testNamespace,
  postCipherUpdate,
} from '@herald/testing';

/** One `/send` the test made, and how it was answered. */
interface Posted {
  id: string;
  userId: string;
  startedAt: number;
  endedAt?: number;
  /** HTTP status, or `error` when the request itself failed (connection refused, timeout). */
  status?: number | 'error';
}

/** A connected client and what it received, by cipher id (receive times, one per copy). */
interface Watched {
  userId: string;
  client: HubClient;
  received: Map<string, number[]>;
  closed: boolean;
}

const PACE_MS = 20;
const BEFORE_OUTAGE = 100;
const DURING_OUTAGE = 75;
const AFTER_RESTART = 100;

/**
 * NATS goes away and comes back while events stream in: the built gateway and dispatcher run
 * against a private nats-server that the test stops and restarts (same port, same store). Every
 * event `/send` acknowledged with 200 must reach its user's clients; while NATS is away `/send`
 * answers 503, never 200; afterwards the services are ready again and deliver live.
 */
describe('a NATS outage mid-stream', () => {
  const namespace = testNamespace('outage');
  let server: NatsServerProcess;
  let issuer: TestIssuer;
  let gateway: ServiceProcess | undefined;
  let dispatcher: ServiceProcess | undefined;
  const watched: Watched[] = [];

  beforeAll(async () => {
    server = await NatsServerProcess.launch();
    issuer = await TestIssuer.create('https://vault.example|login');
    const env = { HERALD_NATS_URL: server.url, HERALD_NAMESPACE: namespace };
    [dispatcher, gateway] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('gateway', { ...env, HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(watched.map(({ client }) => client.stop()));
    // The services drain into NATS on the way out: make sure it is there to drain into.
    if (server && !server.running) await server.start();
    const codes = await Promise.all([gateway?.stop(), dispatcher?.stop()]);
    await server?.cleanup();
    // Both services shut down cleanly on SIGTERM.
    expect(codes).toEqual([0, 0]);
  }, 60_000);

  async function ready(service: ServiceProcess): Promise<number> {
    return (await fetch(`${service.url}/health/ready`)).status;
  }

  it('loses no acknowledged event, answers 503 while NATS is away, and recovers', async () => {
    const gw = gateway!;
    const dp = dispatcher!;

    // Four users, one of them with two connections, all MessagePack as Bitwarden's clients.
    const users = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    for (const userId of [...users, users[0]!]) {
      const client = await HubClient.connect(`${gw.url}/notifications/hub`, {
        token: await issuer.userToken(userId),
        protocol: 'messagepack',
      });
      const entry: Watched = { userId, client, received: new Map(), closed: false };
      client.connection.on('ReceiveMessage', (message: { Payload?: { Id?: unknown } }) => {
        const id = message.Payload?.Id;
        if (typeof id !== 'string') return;
        entry.received.set(id, [...(entry.received.get(id) ?? []), Date.now()]);
      });
      client.connection.onclose(() => (entry.closed = true));
      watched.push(entry);
    }

    const token = await issuer.internalToken();
    const posted: Posted[] = [];
    const inFlight: Promise<void>[] = [];
    const post = async (entry: Posted): Promise<void> => {
      entry.status = await postCipherUpdate(gw.url, token, entry);
      entry.endedAt = Date.now();
    };
    // The stream: one event every PACE_MS, round robin over the users, whatever the answers.
    const pump = setInterval(() => {
      const entry: Posted = {
        id: randomUUID(),
        userId: users[posted.length % users.length]!,
        startedAt: Date.now(),
      };
      posted.push(entry);
      inFlight.push(post(entry));
    }, PACE_MS);
    const answered = (since: number, status?: number) =>
      posted.filter(
        (entry) =>
          entry.startedAt >= since &&
          entry.status !== undefined &&
          (status === undefined || entry.status === status),
      );

    let stoppedAt = 0;
    let restartedAt = 0;
    let readyAt = 0;
    try {
      await eventually(() => expect(answered(0, 200).length).toBeGreaterThanOrEqual(BEFORE_OUTAGE), {
        timeoutMs: 15_000,
      });

      // The outage: a clean shutdown of the only NATS server.
      await server.stop();
      expect(server.tail(3)).toContain('Server Exiting');
      stoppedAt = Date.now();
      await eventually(() => expect(answered(stoppedAt).length).toBeGreaterThanOrEqual(DURING_OUTAGE), {
        timeoutMs: 15_000,
      });
      // Both services say they are not ready while they cannot reach NATS.
      await eventually(async () => expect([await ready(gw), await ready(dp)]).toEqual([503, 503]));

      restartedAt = Date.now();
      await server.start();
      await eventually(async () => expect([await ready(gw), await ready(dp)]).toEqual([200, 200]), {
        timeoutMs: 30_000,
      });
      readyAt = Date.now();
      await eventually(() => expect(answered(readyAt).length).toBeGreaterThanOrEqual(AFTER_RESTART), {
        timeoutMs: 15_000,
      });
    } finally {
      clearInterval(pump);
      await Promise.all(inFlight);
    }

    // While the server was down (requests started after it exited and answered before it was
    // started again), /send refused: 503 at least once, and never 200.
    const whileDown = posted.filter((entry) => entry.startedAt >= stoppedAt && entry.endedAt! <= restartedAt);
    expect(whileDown.length).toBeGreaterThanOrEqual(DURING_OUTAGE);
    expect(whileDown.filter((entry) => entry.status === 503).length).toBeGreaterThan(0);
    expect(whileDown.filter((entry) => entry.status === 200)).toEqual([]);
    // Once the services said they were ready again, every event was stored.
    const afterReady = posted.filter((entry) => entry.startedAt >= readyAt);
    expect(afterReady.filter((entry) => entry.status !== 200)).toEqual([]);

    // Every acknowledged event reaches every connection of its user.
    const acknowledged = posted.filter((entry) => entry.status === 200);
    const targets = (entry: Posted) => watched.filter((target) => target.userId === entry.userId);
    const missing = () =>
      acknowledged.flatMap((entry) =>
        targets(entry)
          .filter((target) => !target.received.has(entry.id))
          .map(() => entry),
      );
    const settleFrom = Date.now();
    try {
      await eventually(
        () => {
          const lost = missing();
          if (lost.length > 0) throw new Error(`${lost.length} acknowledged deliveries still missing`);
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    } finally {
      const lost = missing();
      const duplicates = watched.reduce(
        (sum, target) =>
          sum + [...target.received.values()].reduce((extra, times) => extra + times.length - 1, 0),
        0,
      );
      const delivered = acknowledged.reduce(
        (sum, entry) => sum + targets(entry).filter((target) => target.received.has(entry.id)).length,
        0,
      );
      const expected = acknowledged.reduce((sum, entry) => sum + targets(entry).length, 0);
      const refused = posted.filter((entry) => entry.status === 503).length;
      const failed = posted.filter((entry) => entry.status !== 200 && entry.status !== 503).length;
      const refusedButDelivered = posted.filter(
        (entry) => entry.status !== 200 && watched.some((target) => target.received.has(entry.id)),
      ).length;
      process.stdout.write(
        `[nats-outage] sent=${posted.length} acknowledged=${acknowledged.length} refused503=${refused}` +
          ` failed=${failed} whileDown=${whileDown.length}` +
          ` delivered=${delivered}/${expected} duplicates=${duplicates} lost=${lost.length}` +
          ` refusedButDelivered=${refusedButDelivered}` +
          ` outageMs=${restartedAt - stoppedAt} readyAfterRestartMs=${readyAt - restartedAt}` +
          ` settleMs=${Date.now() - settleFrom}\n`,
      );
      if (lost.length > 0) {
        process.stdout.write(
          `[nats-outage] lost (id, startedAt - stoppedAt ms): ${lost
            .slice(0, 20)
            .map((entry) => `${entry.id} ${entry.startedAt - stoppedAt}`)
            .join(', ')}\n`,
        );
      }
    }
    expect(missing()).toEqual([]);

    // Every connection received every event once. The bound is 0, not "a few": after the restart
    // the gateway reads each group back from its watermark, which lags the live traffic by up to a
    // sampling interval, so deliveries a client already had are read again; the group drops any
    // event id it has already delivered (and the dispatcher's redelivered events, which reach the
    // live subscription again even when DELIVERIES stores them once). Once the catch-up is logged,
    // it has handed everything it read to the sockets; a marker per client, posted after that and
    // received, shows every copy that was coming has arrived.
    await eventually(() =>
      expect(gw.logs.some((line) => line.msg === 'caught up after the NATS outage')).toBe(true),
    );
    const markers = watched.map((target): Posted => ({
      id: randomUUID(),
      userId: target.userId,
      startedAt: Date.now(),
    }));
    await Promise.all(markers.map(post));
    expect(markers.map((marker) => marker.status)).toEqual(markers.map(() => 200));
    await eventually(() =>
      expect(
        watched.filter(
          (target) => !markers.every((m) => m.userId !== target.userId || target.received.has(m.id)),
        ),
      ).toEqual([]),
    );
    const copiesPerClient = watched.map((target) =>
      [...target.received]
        .filter(([, times]) => times.length > 1)
        .map(([id, times]) => `${id}×${times.length}`),
    );
    expect(copiesPerClient).toEqual(watched.map(() => []));

    // Events posted after the restart were delivered live, not left for a later replay: each
    // within seconds of its 200 (typically a few ms; the bound only has to tell live from stuck).
    const latencies = afterReady.flatMap((entry) =>
      targets(entry).map((target) => target.received.get(entry.id)![0]! - entry.endedAt!),
    );
    process.stdout.write(
      `[nats-outage] slowest live delivery after the restart: ${Math.max(...latencies)} ms\n`,
    );
    expect(Math.max(...latencies)).toBeLessThan(10_000);
    // The clients rode out the outage on their open connections.
    expect(watched.filter((target) => target.closed)).toEqual([]);
    // The gateway read back what the outage kept from its live subscriptions.
    await eventually(() => {
      expect(gw.logs.some((line) => line.msg === 'caught up after the NATS outage')).toBe(true);
      expect(dp.logs.some((line) => line.msg === 'reconnected to NATS')).toBe(true);
    });
  }, 180_000);
});

/** A client of the cut-off gateway and every notification it received: cipher id (or `type-<n>`) -> copies. */
interface Listener {
  name: string;
  userId: string;
  client: HubClient;
  received: Map<string, number>;
  closed: boolean;
}

/**
 * Only one gateway loses NATS: its link runs through a TCP proxy the test severs, while the
 * dispatcher and the publisher (a vault API publishing straight to NATS) stay connected. So events
 * keep being accepted and routed into DELIVERIES while the gateway cannot see them live; when the
 * link is back it must read exactly those back from its watermark and hand each to its clients once.
 */
describe('one gateway cut off from NATS while the rest of Herald is not', () => {
  const namespace = testNamespace('cut');
  const names = natsNames(namespace);
  const gatewayId = `cut-${randomUUID().slice(0, 8)}`;
  const organizationId = randomUUID();
  let server: NatsServerProcess;
  let proxy: TcpProxy;
  let issuer: TestIssuer;
  let gateway: ServiceProcess | undefined;
  let dispatcher: ServiceProcess | undefined;
  let publisher: HeraldPublisher | undefined;
  let nats: NatsConnection | undefined;
  /** The gateway's watermark from its latest heartbeat (published through the proxy). */
  let beatWatermark = -1;
  const listeners: Listener[] = [];

  beforeAll(async () => {
    server = await NatsServerProcess.launch();
    proxy = await TcpProxy.start(server.port);
    issuer = await TestIssuer.create('https://vault.example|login');
    const env = { HERALD_NATS_URL: server.url, HERALD_NAMESPACE: namespace };
    [dispatcher, gateway] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('gateway', {
        ...env,
        HERALD_NATS_URL: proxy.natsUrl,
        HERALD_GATEWAY_ID: gatewayId,
        HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
      }),
    ]);
    publisher = await HeraldPublisher.connect({ servers: server.url, namespace });
    nats = await connect({ servers: server.url });
    nats.subscribe(names.subjects.heartbeat(gatewayId), {
      callback: (error, message) => {
        if (!error) beatWatermark = message.json<GatewayHeartbeat>().watermark;
      },
    });
    // Four users on the cut-off gateway, the first with two connections; two of them share an organization.
    const users = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const plan: [string, string, Record<string, unknown>][] = [
      ['u0a', users[0]!, { orguser: organizationId }],
      ['u0b', users[0]!, { orguser: organizationId }],
      ['u1', users[1]!, { orguser: organizationId }],
      ['u2', users[2]!, {}],
      ['u3', users[3]!, {}],
    ];
    for (const [name, userId, claims] of plan) {
      const client = await HubClient.connect(`${gateway.url}/notifications/hub`, {
        token: await issuer.userToken(userId, claims),
      });
      const listener: Listener = { name, userId, client, received: new Map(), closed: false };
      client.connection.on('ReceiveMessage', (message: { Type: number; Payload: { Id?: unknown } }) => {
        const id = typeof message.Payload.Id === 'string' ? message.Payload.Id : `type-${message.Type}`;
        listener.received.set(id, (listener.received.get(id) ?? 0) + 1);
      });
      client.connection.onclose(() => (listener.closed = true));
      listeners.push(listener);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(listeners.map(({ client }) => client.stop()));
    // The gateway drains into NATS on the way out.
    proxy?.restore();
    const codes = await Promise.all([gateway?.stop(), dispatcher?.stop()]);
    await publisher?.close();
    await nats?.close();
    await proxy?.close();
    await server?.cleanup();
    expect(codes).toEqual([0, 0]);
  }, 60_000);

  const users = () => [...new Set(listeners.map((listener) => listener.userId))];
  const members = () => listeners.slice(0, 3);

  /** Publishes a cipher update for one user (or the organization), as a vault API would; returns its id. */
  async function publish(to: { userId: string } | { organizationId: string }): Promise<string> {
    const id = randomUUID();
    await publisher!.syncCipherUpdate(
      'userId' in to
        ? { Id: id, UserId: to.userId, RevisionDate: new Date() }
        : { Id: id, OrganizationId: to.organizationId, RevisionDate: new Date() },
    );
    return id;
  }

  /** One event per user and one for the organization; returns what each listener should get. */
  async function publishRound(expected: Map<Listener, string[]>): Promise<number> {
    for (const userId of users()) {
      const id = await publish({ userId });
      for (const listener of listeners) if (listener.userId === userId) expected.get(listener)!.push(id);
    }
    const id = await publish({ organizationId });
    for (const listener of members()) expected.get(listener)!.push(id);
    return users().length + 1;
  }

  async function deliveriesLast(): Promise<number> {
    const manager = await nats!.jetstreamManager();
    return (await manager.streams.info(names.streams.deliveries)).state.last_seq;
  }

  const logged = (message: string) => gateway!.logs.filter((line) => line.msg === message);

  /**
   * Waits until the gateway's watermark covers everything stored so far, so a catch-up starts
   * exactly at the cut and reads back only what was published while cut.
   */
  async function settleWatermark(): Promise<number> {
    const last = await deliveriesLast();
    await eventually(() => expect(beatWatermark).toBeGreaterThanOrEqual(last), { timeoutMs: 20_000 });
    return last;
  }

  /** Severs the gateway's link and waits until it knows. */
  async function cut(): Promise<void> {
    const before = logged('disconnected from NATS').length;
    proxy.sever();
    await eventually(() => expect(logged('disconnected from NATS').length).toBeGreaterThan(before), {
      timeoutMs: 20_000,
    });
  }

  /** Restores the link and waits for the catch-up to end; returns its log line. */
  async function restore(): Promise<LogLine> {
    const before = logged('caught up after the NATS outage').length;
    proxy.restore();
    return eventually(
      () => {
        const lines = logged('caught up after the NATS outage');
        expect(lines.length).toBeGreaterThan(before);
        return lines.at(-1)!;
      },
      { timeoutMs: 30_000 },
    );
  }

  /** One marker per user after everything else; once each client has its marker, nothing older is still coming. */
  async function awaitMarkers(expected: Map<Listener, string[]>): Promise<void> {
    await publishRound(expected);
    await eventually(
      () => {
        for (const [listener, ids] of expected)
          expect(ids.filter((id) => !listener.received.has(id))).toEqual([]);
      },
      { timeoutMs: 30_000 },
    );
  }

  it('reads back every delivery published while it was cut, and each client gets each one once', async () => {
    const gw = gateway!;
    const expected = new Map<Listener, string[]>(listeners.map((listener) => [listener, []]));
    // Live before the cut.
    await publishRound(expected);
    await awaitMarkers(expected);

    const storedBefore = await settleWatermark();
    const caughtUpBefore = await gw.metric('herald_gateway_caught_up_deliveries_total');
    await cut();

    const ROUNDS = 8;
    const whileCut = new Map<Listener, string[]>(listeners.map((listener) => [listener, []]));
    let published = 0;
    for (let round = 0; round < ROUNDS; round += 1) published += await publishRound(whileCut);
    // The dispatcher, still connected, stored one delivery per event (one group each).
    await eventually(async () => expect(await deliveriesLast()).toBe(storedBefore + published), {
      timeoutMs: 20_000,
    });
    // The cut is real: none of it reached a client live.
    const early = listeners.flatMap((listener) =>
      whileCut.get(listener)!.filter((id) => listener.received.has(id)),
    );
    expect(early).toEqual([]);

    const line = await restore();
    for (const [listener, ids] of whileCut) expected.get(listener)!.push(...ids);
    await awaitMarkers(expected);

    // Every client got everything meant for it exactly once, and nothing else.
    const counts = listeners.map((listener) => ({
      name: listener.name,
      copies: [...listener.received.values()].filter((count) => count !== 1).length,
      unexpected: [...listener.received.keys()].filter((id) => !expected.get(listener)!.includes(id)).length,
      missing: expected.get(listener)!.filter((id) => !listener.received.has(id)).length,
    }));
    expect(counts).toEqual(listeners.map(({ name }) => ({ name, copies: 0, unexpected: 0, missing: 0 })));
    // The catch-up read exactly what was published while cut: it started at the cut (the
    // watermark covered everything before it) and ended at the stream's end.
    const caughtUp = (await gw.metric('herald_gateway_caught_up_deliveries_total')) - caughtUpBefore;
    const delivered = [...whileCut].reduce(
      (sum, [listener, ids]) => sum + ids.filter((id) => listener.received.get(id) === 1).length,
      0,
    );
    process.stdout.write(
      `[gateway-cut] published while cut=${published} deliveries to clients=${delivered}` +
        ` caught-up metric delta=${caughtUp} logged=${String(line.deliveries)}\n`,
    );
    expect(caughtUp).toBe(published);
    expect(line.deliveries).toBe(published);
    expect(listeners.filter((listener) => listener.closed)).toEqual([]);
  }, 120_000);

  it('sends each device one SyncVault when what was published while cut has left DELIVERIES', async () => {
    const gw = gateway!;
    const expected = new Map<Listener, string[]>(listeners.map((listener) => [listener, []]));
    const storedBefore = await settleWatermark();
    const [caughtUpBefore, syncVaultsBefore] = await Promise.all([
      gw.metric('herald_gateway_caught_up_deliveries_total'),
      gw.metric('herald_gateway_catch_up_sync_vaults_total'),
    ]);
    const syncsBefore = listeners.map((listener) => listener.received.get(`type-${PushType.SyncVault}`) ?? 0);
    await cut();

    const lost = new Map<Listener, string[]>(listeners.map((listener) => [listener, []]));
    const published = (await publishRound(lost)) + (await publishRound(lost));
    await eventually(async () => expect(await deliveriesLast()).toBe(storedBefore + published), {
      timeoutMs: 20_000,
    });
    // As if the outage had outlasted the replay window: the gap is gone from the stream.
    const manager = await nats!.jetstreamManager();
    await manager.streams.purge(names.streams.deliveries);

    await restore();
    await awaitMarkers(expected);

    const syncs = listeners.map(
      (listener, index) => (listener.received.get(`type-${PushType.SyncVault}`) ?? 0) - syncsBefore[index]!,
    );
    expect(syncs).toEqual(listeners.map(() => 1));
    // What was purged never arrives (the markers were published after it and have arrived).
    expect(
      listeners.flatMap((listener) => lost.get(listener)!.filter((id) => listener.received.has(id))),
    ).toEqual([]);
    expect((await gw.metric('herald_gateway_catch_up_sync_vaults_total')) - syncVaultsBefore).toBe(
      listeners.length,
    );
    expect((await gw.metric('herald_gateway_caught_up_deliveries_total')) - caughtUpBefore).toBe(0);
    expect(logged('part of the NATS outage left the delivery log; sent SyncVault')).toHaveLength(1);
  }, 120_000);
});
