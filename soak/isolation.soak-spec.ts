import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from 'nats';

import { natsNames } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  deleteNamespace,
  eventually,
  type HeraldApp,
  HubClient,
  type ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
} from '@herald/testing';

import { randomEvent, type Population } from './support/event-mix';
import { printFigures, progress, seconds } from './support/figures';
import { Random } from './support/random';
import { type Protocol, RawHubClient } from './support/raw-hub-client';
import { clientTypeOfClaim, DEVICE_TYPE_NAMES, deviceTypeNumber } from './support/routing-oracle';
import { Session, type SoakEvent, Tally } from './support/session';
import { Services } from './support/services';

/**
 * Isolation under churn: three gateways and two dispatchers on one namespace; a seeded population
 * of users (with organizations in their tokens), devices of every client type and auth-request
 * waiters connects and disconnects across the gateways while at least 100,000 deliveries flow.
 * Every arrival is checked on the spot against the routing rules (support/routing-oracle.ts): a
 * message that was not meant for the connection that got it is a leak. Every session that ends in
 * order asks for an end marker of its own and then checks that each event meant for it and
 * published while it was live did arrive: anything missing is lost.
 */

const NAME = 'isolation';
const TARGET_DELIVERIES = Number(process.env.HERALD_SOAK_ISOLATION_DELIVERIES ?? 100_000);
const GATEWAYS = 3;
const DISPATCHERS = 2;
const USERS = 80;
const ORGANIZATIONS = 8;
const WAITER_GROUPS = 8;
const PUBLISHERS = 12;
/** Publishers pause while this many expected deliveries are still on their way, or… */
const MAX_OUTSTANDING = 4000;
/** …while the dispatchers have this many events not yet routed. */
const MAX_BACKLOG = 1500;
/** How long one delivery may take before it counts as lost (a deadline, not a measurement). */
const DELIVERY_DEADLINE_MS = 60_000;
/** Deadline for the whole load phase. */
const LOAD_DEADLINE_MS = 360_000;

interface User {
  id: string;
  organizationIds: string[];
  claims: Record<string, unknown>;
  devices: Device[];
}

interface Device {
  id: string;
  user: User;
  deviceType: unknown;
  clientType: number;
  /** Connects with the real @microsoft/signalr client instead of the raw one. */
  real: boolean;
  /** Minted once: a client keeps its access token until it expires. */
  token: string;
}

interface WaiterGroup {
  token: string;
  slots: number;
  /** Waiters connected right now. */
  live: number;
}

/** An open connection, raw or real, as the churn drives it. */
interface Connection {
  stop(): Promise<void>;
  terminate(): void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('isolation under churn (soak)', () => {
  const namespace = testNamespace('soakiso');
  const names = natsNames(namespace);
  const random = Random.fromEnvironment();
  const installationId = random.uuid();
  const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace, HERALD_LOG_LEVEL: 'info' };
  let issuer: TestIssuer;
  let internalToken: string;
  let publisher: HeraldPublisher;
  let nats: NatsConnection;
  const services = new Services();
  const gateways: ServiceProcess[] = [];
  /** Ends the load at once (set by the test; called again by afterAll when the test failed). */
  let stopLoad: () => void = () => undefined;

  beforeAll(async () => {
    issuer = await TestIssuer.create();
    internalToken = await issuer.internalToken({ expiresIn: 3 * 3600 });
    const started = await services.startAll([
      ...Array.from({ length: DISPATCHERS }, (): [HeraldApp, Record<string, string>] => [
        'dispatcher',
        { ...env, HERALD_DISPATCHER_ACK_WAIT: '10s' },
      ]),
      ...Array.from({ length: GATEWAYS }, (_, index): [HeraldApp, Record<string, string>] => [
        'gateway',
        {
          ...env,
          HERALD_GATEWAY_ID: `soak-iso-${index}`,
          HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
          HERALD_INSTALLATION_ID: installationId,
        },
      ]),
    ]);
    gateways.push(...started.slice(DISPATCHERS));
    publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
    nats = await connect({ servers: TEST_NATS_URL });
  }, 240_000);

  afterAll(async () => {
    stopLoad();
    await publisher?.close();
    await nats?.close();
    await services.stopAll();
    await deleteNamespace(namespace);
  }, 60_000);

  it('delivers every event only to the connections it is meant for, and loses none', async () => {
    const started = performance.now();
    const tally = new Tally();
    const registry = new Map<string, SoakEvent>();
    const sessions = new Set<Session>();
    const openConnections = new Set<Connection>();
    let sessionCount = 0;
    let realSessions = 0;
    let anonymousSessions = 0;
    let abrupt = 0;
    let closedByServer = 0;
    let connectFailures = 0;
    const connectFailureSamples: string[] = [];
    let maxLive = 0;

    // ---- the population (seeded) ----------------------------------------------------------------
    const organizationIds = Array.from({ length: ORGANIZATIONS }, () => random.uuid());
    const users: User[] = Array.from({ length: USERS }, () => {
      const id = random.uuid();
      const memberOf = random.sample(organizationIds, random.between(0, 4));
      const claims: Record<string, unknown> = {};
      for (const organizationId of memberOf) {
        const claim = random.pick(['orgowner', 'orgadmin', 'orguser', 'orgcustom']);
        // Either letter case: the gateway lowercases organization ids.
        const value = random.chance(0.2) ? organizationId.toUpperCase() : organizationId;
        const previous = claims[claim];
        claims[claim] =
          previous === undefined ? (random.chance(0.5) ? value : [value]) : [previous, value].flat();
      }
      return { id, organizationIds: memberOf, claims, devices: [] };
    });
    let realDevices = 0;
    for (const user of users) {
      for (let count = random.between(1, 4); count > 0; count -= 1) {
        const kind = random.next();
        const name = random.pick(DEVICE_TYPE_NAMES);
        // Names, numbers, numeric strings, and what means All: missing or unknown.
        const deviceType =
          kind < 0.55
            ? name
            : kind < 0.8
              ? deviceTypeNumber(name)
              : kind < 0.88
                ? String(deviceTypeNumber(name))
                : kind < 0.94
                  ? undefined
                  : 'NotADeviceType';
        const real = realDevices < 6 && random.chance(0.05);
        if (real) realDevices += 1;
        const deviceId = random.uuid();
        user.devices.push({
          id: deviceId,
          user,
          deviceType,
          clientType: clientTypeOfClaim(deviceType),
          real,
          token: await issuer.userToken(user.id, {
            device: deviceId,
            devicetype: deviceType,
            ...user.claims,
          }),
        });
      }
    }
    const devices = users.flatMap((user) => user.devices);
    const waiterGroups: WaiterGroup[] = Array.from({ length: WAITER_GROUPS }, () => ({
      token: random.uuid(),
      slots: random.between(1, 2),
      live: 0,
    }));
    const population: Population = {
      userIds: users.map((user) => user.id),
      organizationIds,
      devicesOf: (userId) =>
        users.find((user) => user.id === userId)?.devices.map((device) => device.id) ?? [],
      waitingTokens: () => waiterGroups.filter((group) => group.live > 0).map((group) => group.token),
      installationId,
    };

    // ---- publishing ---------------------------------------------------------------------------
    let soakSequence = 0;
    let published = 0;
    let viaSend = 0;
    let publishFailures = 0;
    let publishMs = 0;
    let sendRetries = 0;
    const publishFailureSamples: string[] = [];
    const eventRandom = new Random(random.seed + 1);

    /** Publishes one event; every session live when it starts and meant to get it must get it. */
    const publish = async (event: SoakEvent, route: 'nats' | 'send'): Promise<void> => {
      registry.set(event.soakId, event);
      const expecting: Session[] = [];
      for (const session of sessions) {
        if (session.state === 'live' && session.expectsEvent(event)) {
          session.expect(event.soakId);
          expecting.push(session);
        }
      }
      const t0 = performance.now();
      try {
        if (route === 'nats') {
          await publisher.publish(event.type, event.payload, {
            contextId: event.contextId,
          });
        } else {
          viaSend += 1;
          const gateway = gateways[eventRandom.int(gateways.length)]!;
          const post = () =>
            fetch(`${gateway.url}/send`, {
              method: 'POST',
              headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${internalToken}` },
              body: JSON.stringify({ type: event.type, payload: event.payload, contextId: event.contextId }),
            });
          let response: Response;
          try {
            response = await post();
          } catch {
            // A keep-alive socket the gateway closed just as it was reused ("fetch failed"), as any
            // HTTP client sees now and then: a vault API retries. If the first post did arrive, the
            // event is delivered twice (counted under duplicates; clients compare revision dates).
            sendRetries += 1;
            response = await post();
          }
          if (response.status !== 200)
            throw new Error(`/send answered ${response.status}: ${await response.text()}`);
        }
        published += 1;
        publishMs += performance.now() - t0;
      } catch (error) {
        publishFailures += 1;
        if (publishFailureSamples.length < 5) publishFailureSamples.push(String(error));
        for (const session of expecting) session.unexpect(event.soakId);
      }
    };

    let backlog = 0;
    const backlogTimer = setInterval(() => {
      void nats
        .jetstreamManager()
        .then((manager) => manager.consumers.info(names.streams.events, names.consumers.dispatcher))
        .then((info) => (backlog = info.num_pending + info.num_ack_pending))
        .catch(() => undefined);
    }, 250);
    let publishing = true;
    const publishers = Array.from({ length: PUBLISHERS }, async () => {
      while (publishing) {
        if (tally.outstanding > MAX_OUTSTANDING || backlog > MAX_BACKLOG) {
          await sleep(20);
          continue;
        }
        const soakId = `e${(soakSequence += 1)}`;
        const event = { soakId, ...randomEvent(eventRandom, population, soakId) };
        await publish(event, eventRandom.chance(0.1) ? 'send' : 'nats');
      }
    });

    /** The end marker of one session: an event meant for it (and for nobody outside its user or token). */
    const endMarker = (session: Session): SoakEvent => {
      const soakId = `end${session.id}`;
      const recipient = session.recipient;
      return recipient.hub === 'user'
        ? {
            soakId,
            type: 10,
            payload: { UserId: recipient.userId, Date: new Date().toISOString(), SoakId: soakId },
            contextId: null,
          }
        : {
            soakId,
            type: 16,
            payload: { Id: recipient.token, UserId: users[0]!.id, SoakId: soakId },
            contextId: null,
          };
    };

    // ---- connections ----------------------------------------------------------------------------
    const churnRandom = new Random(random.seed + 2);
    const wsUrl = (index: number) => gateways[index]!.url.replace('http', 'ws');

    /** Connects one session to a random gateway; undefined when the gateway refused it. */
    const open = async (
      target: { device: Device } | { group: WaiterGroup },
    ): Promise<{ session: Session; connection: Connection } | undefined> => {
      const gatewayIndex = churnRandom.int(gateways.length);
      const protocol: Protocol = churnRandom.chance(0.5) ? 'messagepack' : 'json';
      const prefix = churnRandom.chance(0.5) ? '/notifications' : '';
      const id = (sessionCount += 1);
      let session: Session;
      let url: string;
      let token: string | undefined;
      let real: boolean;
      if ('device' in target) {
        const { device } = target;
        session = new Session(
          id,
          {
            hub: 'user',
            userId: device.user.id,
            deviceId: device.id,
            organizationIds: new Set(device.user.organizationIds),
            clientType: device.clientType,
            installationId,
          },
          `session ${id} (user ${device.user.id.slice(0, 8)}, device ${device.id.slice(0, 8)}, ${protocol}, gateway ${gatewayIndex})`,
          registry,
          tally,
        );
        token = device.token;
        url = `${wsUrl(gatewayIndex)}${prefix}/hub`;
        real = device.real;
      } else {
        const { group } = target;
        session = new Session(
          id,
          { hub: 'anonymous', token: group.token },
          `waiter ${id} (token ${group.token.slice(0, 8)}, ${protocol}, gateway ${gatewayIndex})`,
          registry,
          tally,
        );
        // Any letter case of the key and of the id (PROTOCOL.md §1).
        const key = churnRandom.pick(['Token', 'token', 'TOKEN']);
        const value = churnRandom.chance(0.2) ? group.token.toUpperCase() : group.token;
        url = `${wsUrl(gatewayIndex)}${prefix}/anonymous-hub?${key}=${value}`;
        real = group === waiterGroups[0];
        anonymousSessions += 1;
      }
      sessions.add(session);
      const onClose = () => {
        if (session.state === 'live' || session.state === 'ending') {
          closedByServer += 1;
          session.closedByServer = true;
        }
      };
      try {
        let connection: Connection;
        if (real) {
          realSessions += 1;
          const client = await HubClient.connect(url.replace('ws', 'http'), {
            ...(token ? { token } : {}),
            protocol,
          });
          for (const method of ['ReceiveMessage', 'AuthRequestResponseRecieved']) {
            client.connection.on(method, (message: unknown) => session.receive(method, message));
          }
          client.connection.onclose(onClose);
          connection = { stop: () => client.stop(), terminate: () => void client.stop() };
        } else {
          const client = await RawHubClient.connect(token ? `${url}?access_token=${token}` : url, {
            protocol,
          });
          client.onInvocation = ({ target: method, args }) => session.receive(method, args[0]);
          client.onClose = (byServer) => byServer && onClose();
          connection = client;
        }
        session.state = 'live';
        openConnections.add(connection);
        const live = [...sessions].filter((each) => each.state === 'live').length;
        maxLive = Math.max(maxLive, live);
        return { session, connection };
      } catch (error) {
        connectFailures += 1;
        if (connectFailureSamples.length < 5)
          connectFailureSamples.push(`${session.label}: ${String(error)}`);
        session.abandon();
        sessions.delete(session);
        return undefined;
      }
    };

    /**
     * Ends a session. In order: no more expectations, its end marker, then every expected event
     * (the marker shows it is still receiving; two dispatchers route in any order, so what was
     * published before the marker may still arrive after it), then a clean close. Or abruptly:
     * the socket is dropped and nothing is asked of it.
     */
    const close = async (session: Session, connection: Connection, dropped: boolean): Promise<void> => {
      if (dropped) {
        abrupt += 1;
        session.abandon();
        connection.terminate();
      } else {
        session.state = 'ending';
        const marker = endMarker(session);
        session.expect(marker.soakId);
        await publish(marker, 'nats');
        await session.until(() => session.missing().length === 0, DELIVERY_DEADLINE_MS);
        session.finish();
        await connection.stop();
      }
      sessions.delete(session);
      openConnections.delete(connection);
    };

    let churning = true;
    let wake: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (wake = resolve));
    stopLoad = () => {
      publishing = false;
      churning = false;
      wake();
      clearInterval(backlogTimer);
      for (const connection of openConnections) connection.terminate();
    };
    /** Waits `ms`, or less when the churn stops. */
    const interruptibleSleep = async (ms: number) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
      clearTimeout(timer);
    };
    const deviceLoops = devices.map(async (device) => {
      while (churning) {
        await interruptibleSleep(churnRandom.between(100, 3000));
        if (!churning) break;
        const opened = await open({ device });
        if (!opened) continue;
        await interruptibleSleep(churnRandom.between(4000, 25_000));
        // Dropped connections only while the load runs: the last session of each device ends in order.
        await close(opened.session, opened.connection, churning && !device.real && churnRandom.chance(0.15));
      }
    });
    const waiterLoops = waiterGroups.flatMap((group) =>
      Array.from({ length: group.slots }, async (_, slot) => {
        while (churning) {
          await interruptibleSleep(churnRandom.between(100, 2000));
          if (!churning) break;
          // The first waiter of a group sometimes moves on to a new auth request.
          if (slot === 0 && group.live === 0 && churnRandom.chance(0.3)) group.token = churnRandom.uuid();
          const opened = await open({ group });
          if (!opened) continue;
          group.live += 1;
          await interruptibleSleep(churnRandom.between(1000, 8000));
          await close(opened.session, opened.connection, false);
          group.live -= 1;
        }
      }),
    );

    // ---- the run ------------------------------------------------------------------------------
    let lastProgress = performance.now();
    while (tally.deliveries < TARGET_DELIVERIES && performance.now() - started < LOAD_DEADLINE_MS) {
      await sleep(250);
      if (performance.now() - lastProgress >= 15_000) {
        lastProgress = performance.now();
        progress(
          NAME,
          `${seconds(lastProgress - started)}: ${tally.deliveries} deliveries, ${published} events, ` +
            `${sessions.size} sessions open, ${tally.outstanding} outstanding, backlog ${backlog}, publish ${(publishMs / published).toFixed(0)} ms`,
        );
      }
    }
    const loadEnded = performance.now();
    // Stop publishing, let the dispatchers route everything accepted, and only then let every
    // session end in order: a leak of anything published before its marker would be there first.
    publishing = false;
    await Promise.all(publishers);
    const manager = await nats.jetstreamManager();
    await eventually(
      async () => {
        const info = await manager.consumers.info(names.streams.events, names.consumers.dispatcher);
        expect(info.num_pending + info.num_ack_pending).toBe(0);
      },
      { timeoutMs: DELIVERY_DEADLINE_MS, intervalMs: 100 },
    );
    clearInterval(backlogTimer);
    churning = false;
    wake();
    await Promise.all([...deviceLoops, ...waiterLoops]);
    const duration = performance.now() - started;

    printFigures(NAME, {
      seed: random.seed,
      gateways: GATEWAYS,
      dispatchers: DISPATCHERS,
      users: USERS,
      organizations: ORGANIZATIONS,
      devices: devices.length,
      waiterGroups: WAITER_GROUPS,
      sessions: sessionCount,
      realClientSessions: realSessions,
      anonymousSessions,
      maxLive,
      droppedByClient: abrupt,
      closedByServer,
      events: published,
      viaSend,
      sendRetries,
      meanPublishMs: Math.round(publishMs / Math.max(1, published)),
      deliveries: tally.deliveries,
      expected: tally.expected,
      lost: tally.lost,
      leaks: tally.leaks,
      replayedOrBoundary: tally.unexpectedButMeant,
      ownContextIgnored: tally.ownContext,
      syncVaults: tally.syncVaults,
      duplicates: tally.duplicates,
      publishFailures,
      connectFailures,
      load: seconds(loadEnded - started),
      total: seconds(duration),
      deliveriesPerSecond: Math.round(tally.deliveries / ((loadEnded - started) / 1000)),
    });
    expect({
      leaks: tally.leakSamples,
      lost: tally.lostSamples,
      publishFailures: publishFailureSamples,
      connectFailures: connectFailureSamples,
    }).toEqual({ leaks: [], lost: [], publishFailures: [], connectFailures: [] });
    expect({ leaks: tally.leaks, lost: tally.lost, closedByServer }).toEqual({
      leaks: 0,
      lost: 0,
      closedByServer: 0,
    });
    expect(tally.deliveries).toBeGreaterThanOrEqual(TARGET_DELIVERIES);
  });
});
