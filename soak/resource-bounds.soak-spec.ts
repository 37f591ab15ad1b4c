import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { HeraldPublisher } from '@herald/publisher';
import {
  deleteNamespace,
  eventually,
  type ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
} from '@herald/testing';

import { type WorkerClient } from './support/connection-worker';
import { megabytes, printFigures, progress, seconds } from './support/figures';
import { Random } from './support/random';
import { RawHubClient, UpgradeRefused } from './support/raw-hub-client';
import { Services } from './support/services';
import { Session, type SoakEvent, Tally } from './support/session';
import { ConnectionWorker } from './support/workers';

/**
 * What one gateway holds and refuses: 10,000 authenticated clients dropped and reconnected all at
 * once, the per-address and per-user connection caps to the connection, and a client that stops
 * reading closed once its outbound buffer is full while the gateway's memory stays put.
 */

const CLIENTS = Number(process.env.HERALD_SOAK_STORM_CLIENTS ?? 10_000);
/** Source addresses the storm comes from: 127.0.0.11 … (each holds CLIENTS / SOURCES). */
const SOURCES = 10;
const WORKERS = 4;
const PER_IP = Math.ceil(CLIENTS / SOURCES);
const PER_USER = 5;
const ANONYMOUS_PER_IP = 25;
const FILLER_BYTES = 16 * 1024;
/** The slow consumer must be closed before this much was sent its way. */
const SLOW_CONSUMER_BUDGET_BYTES = 64 * 1024 * 1024;

type Attempt = { status: number; client?: RawHubClient };

describe('resource bounds of one gateway (soak)', () => {
  const namespace = testNamespace('soakres');
  const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace, HERALD_LOG_LEVEL: 'info' };
  const random = Random.fromEnvironment();
  const services = new Services();
  let issuer: TestIssuer;
  let gateway: ServiceProcess;
  let publisher: HeraldPublisher;
  let workers: ConnectionWorker[] = [];
  const opened: RawHubClient[] = [];

  const rss = () => gateway.metric('herald_process_process_resident_memory_bytes');
  const heap = () => gateway.metric('herald_process_nodejs_heap_size_used_bytes');
  /** The heap after a full collection: what is really retained. */
  const retained = async () => {
    await gateway.collectGarbage();
    return heap();
  };
  const connections = () => gateway.metric('herald_gateway_connections');
  const presenceWrites = () => gateway.metric('herald_gateway_presence_writes_pending');
  /** CPU seconds the gateway process has used (user + system). */
  const cpu = () => gateway.metric('herald_process_process_cpu_seconds_total');
  const hubUrl = () => `${gateway.url.replace('http', 'ws')}/notifications/hub`;

  /** One connection attempt from `source`: 101 and the client, or the HTTP status it was refused with. */
  const attempt = async (source: string, path: string): Promise<Attempt> => {
    try {
      const client = await RawHubClient.connect(`${gateway.url.replace('http', 'ws')}${path}`, {
        protocol: 'messagepack',
        localAddress: source,
      });
      opened.push(client);
      return { status: 101, client };
    } catch (error) {
      if (error instanceof UpgradeRefused) return { status: error.status };
      throw error;
    }
  };
  const hubPath = async (userId = random.uuid()) => `/hub?access_token=${await issuer.userToken(userId)}`;

  beforeAll(async () => {
    // ES256: ten thousand tokens are minted in seconds.
    issuer = await TestIssuer.create({ algorithm: 'ES256' });
    const started = await services.startAll([
      ['dispatcher', env],
      [
        'gateway',
        {
          ...env,
          HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
          HERALD_CONNECTIONS_PER_IP: String(PER_IP),
          HERALD_CONNECTIONS_PER_USER: String(PER_USER),
          HERALD_ANONYMOUS_CONNECTIONS_PER_IP: String(ANONYMOUS_PER_IP),
        },
        // The inspector, to collect garbage before reading what the heap retains.
        ['--inspect=127.0.0.1:0'],
      ],
    ]);
    gateway = started[1]!;
    publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
  }, 240_000);

  afterAll(async () => {
    for (const client of opened) client.terminate();
    await Promise.all(workers.map((worker) => worker.stop()));
    await publisher?.close();
    await services.stopAll();
    await deleteNamespace(namespace);
  }, 60_000);

  it(`absorbs ${CLIENTS} simultaneous reconnects`, async () => {
    const rssIdle = await rss();
    const heapIdle = await retained();
    // Two devices per user, each address at the per-address cap exactly.
    const userIds = Array.from({ length: Math.ceil(CLIENTS / 2) }, () => random.uuid());
    const clients: WorkerClient[] = [];
    for (let index = 0; index < CLIENTS; index += 1) {
      clients.push({
        token: await issuer.userToken(userIds[index >> 1]!, {
          devicetype: random.pick([
            'ChromeExtension',
            'WindowsDesktop',
            'Android',
            'FirefoxBrowser',
            'LinuxCLI',
          ]),
        }),
        localAddress: `127.0.0.${11 + (index % SOURCES)}`,
      });
    }
    workers = await ConnectionWorker.startAll(WORKERS, hubUrl(), clients);

    /** Every worker connects all of its clients at once; the reports, summed. */
    const storm = async () => {
      const cpuBefore = await cpu();
      const reports = await Promise.all(workers.map((worker) => worker.request({ command: 'connect' })));
      const refused: Record<string, number> = {};
      for (const report of reports) {
        for (const [reason, count] of Object.entries(report.refused))
          refused[reason] = (refused[reason] ?? 0) + count;
      }
      const took =
        Math.max(...reports.map((report) => report.finishedAt)) -
        Math.min(...reports.map((report) => report.startedAt));
      const connected = reports.reduce((sum, report) => sum + report.connected, 0);
      return {
        connected,
        resets: reports.reduce((sum, report) => sum + report.resets, 0),
        /** Gateway CPU per connection set up (token check, handshake, groups, presence, replay). */
        cpuMsPerHandshake: Math.round((((await cpu()) - cpuBefore) * 1e4) / Math.max(1, connected)) / 10,
        refused,
        refusedCount: Object.values(refused).reduce((sum, count) => sum + count, 0),
        took,
      };
    };
    const drop = async () => {
      const started = performance.now();
      const reports = await Promise.all(workers.map((worker) => worker.request({ command: 'drop' })));
      await eventually(async () => expect(await connections()).toBe(0), {
        timeoutMs: 120_000,
        intervalMs: 100,
      });
      return {
        took: performance.now() - started,
        closedByServer: reports.reduce((sum, report) => sum + report.closedByServer, 0),
      };
    };

    const first = await storm();
    progress('reconnect-storm', `first connect: ${first.connected} in ${seconds(first.took)}`);
    await eventually(async () => expect(await connections()).toBe(first.connected), { timeoutMs: 60_000 });
    const rssConnected = await rss();
    const heapConnected = await retained();
    const dropped = await drop();
    const second = await storm();
    progress('reconnect-storm', `reconnect: ${second.connected} in ${seconds(second.took)}`);
    await eventually(async () => expect(await connections()).toBe(second.connected), { timeoutMs: 60_000 });
    const rssReconnected = await rss();
    const end = await drop();
    // The closes' last presence writes settle first (they hold their connections until answered).
    await eventually(async () => expect(await presenceWrites()).toBe(0), { timeoutMs: 60_000 });
    const heapAfter = await retained();
    const rssAfter = await rss();

    printFigures('reconnect-storm', {
      seed: random.seed,
      clients: CLIENTS,
      sourceAddresses: SOURCES,
      perIpCap: PER_IP,
      workers: WORKERS,
      firstConnect: seconds(first.took),
      firstHandshakesPerSecond: Math.round(first.connected / (first.took / 1000)),
      firstRefused: first.refusedCount,
      firstResetAndRetried: first.resets,
      firstGatewayCpuMsPerHandshake: first.cpuMsPerHandshake,
      released: seconds(dropped.took),
      reconnected: second.connected,
      reconnect: seconds(second.took),
      reconnectHandshakesPerSecond: Math.round(second.connected / (second.took / 1000)),
      refused: second.refusedCount,
      resetAndRetried: second.resets,
      reconnectGatewayCpuMsPerHandshake: second.cpuMsPerHandshake,
      refusedReasons: JSON.stringify({ ...first.refused, ...second.refused }),
      closedByServer: dropped.closedByServer + end.closedByServer,
      rssIdle: megabytes(rssIdle),
      rssWith10k: megabytes(rssConnected),
      rssAfterReconnect: megabytes(rssReconnected),
      rssAfterDrop: megabytes(rssAfter),
      heapIdle: megabytes(heapIdle),
      heapWith10k: megabytes(heapConnected),
      heapAfterDrop: megabytes(heapAfter),
    });
    expect({ first: first.refused, second: second.refused }).toEqual({ first: {}, second: {} });
    expect([first.connected, second.connected]).toEqual([CLIENTS, CLIENTS]);
    expect(dropped.closedByServer + end.closedByServer).toBe(0);
    await Promise.all(workers.map((worker) => worker.request({ command: 'exit' })));
    await Promise.all(workers.map((worker) => worker.stop()));
    workers = [];
  });

  it('holds the per-address and per-user caps exactly', async () => {
    // Per address, over both hubs: PER_IP from one address, then one more is refused.
    const full = '127.0.0.50';
    const firstWave: Attempt[] = [];
    for (let batch = 0; batch < PER_IP; batch += 100) {
      const count = Math.min(100, PER_IP - batch);
      firstWave.push(
        ...(await Promise.all(Array.from({ length: count }, async () => attempt(full, await hubPath())))),
      );
    }
    const acceptedFromOne = firstWave.filter((result) => result.status === 101).length;
    const overIp = await attempt(full, await hubPath());
    const anonymousOverIp = await attempt(full, `/anonymous-hub?Token=${random.uuid()}`);
    const otherAddress = await attempt('127.0.0.51', await hubPath());
    // A place freed is a place taken again, once.
    await firstWave[0]!.client!.stop();
    const afterRelease = await eventually(async () => {
      const result = await attempt(full, await hubPath());
      expect(result.status).toBe(101);
      return result;
    });
    const overAgain = await attempt(full, await hubPath());

    // Per user: PER_USER connections of one user (from an address of their own), then refused.
    const userId = random.uuid();
    const own = '127.0.0.52';
    const devices: Attempt[] = [];
    for (let count = 0; count < PER_USER; count += 1) devices.push(await attempt(own, await hubPath(userId)));
    const overUser = await attempt(own, await hubPath(userId));
    const otherUserSameAddress = await attempt(own, await hubPath());
    await devices[0]!.client!.stop();
    const userAfterRelease = await eventually(async () => {
      const result = await attempt(own, await hubPath(userId));
      expect(result.status).toBe(101);
      return result;
    });
    const overUserAgain = await attempt(own, await hubPath(userId));

    // Anonymous hub: its own, smaller cap per address.
    const waiters: Attempt[] = [];
    for (let count = 0; count < ANONYMOUS_PER_IP; count += 1) {
      waiters.push(await attempt('127.0.0.53', `/anonymous-hub?Token=${random.uuid()}`));
    }
    const overAnonymous = await attempt('127.0.0.53', `/anonymous-hub?Token=${random.uuid()}`);

    const outcome = {
      acceptedFromOneAddress: acceptedFromOne,
      nextFromThatAddress: overIp.status,
      anonymousFromThatAddress: anonymousOverIp.status,
      fromAnotherAddress: otherAddress.status,
      afterOneLeft: afterRelease.status,
      nextAfterThat: overAgain.status,
      acceptedForOneUser: devices.filter((result) => result.status === 101).length,
      nextForThatUser: overUser.status,
      otherUserSameAddress: otherUserSameAddress.status,
      userAfterOneLeft: userAfterRelease.status,
      userNextAfterThat: overUserAgain.status,
      acceptedWaiters: waiters.filter((result) => result.status === 101).length,
      nextWaiter: overAnonymous.status,
    };
    printFigures('connection-caps', {
      perIpCap: PER_IP,
      perUserCap: PER_USER,
      anonymousPerIpCap: ANONYMOUS_PER_IP,
      ...outcome,
    });
    expect(outcome).toEqual({
      acceptedFromOneAddress: PER_IP,
      nextFromThatAddress: 429,
      anonymousFromThatAddress: 429,
      fromAnotherAddress: 101,
      afterOneLeft: 101,
      nextAfterThat: 429,
      acceptedForOneUser: PER_USER,
      nextForThatUser: 429,
      otherUserSameAddress: 101,
      userAfterOneLeft: 101,
      userNextAfterThat: 429,
      acceptedWaiters: ANONYMOUS_PER_IP,
      nextWaiter: 429,
    });
    await Promise.all(opened.splice(0).map((client) => client.stop()));
  });

  it('closes a client that stops reading at its buffer limit, and keeps its memory', async () => {
    await eventually(async () => expect(await connections()).toBe(0), { timeoutMs: 30_000 });
    const organizationId = random.uuid();
    const member = async (source: string) => {
      const userId = random.uuid();
      const token = await issuer.userToken(userId, { orguser: organizationId });
      const client = await RawHubClient.connect(`${hubUrl()}?access_token=${token}`, {
        protocol: 'messagepack',
        localAddress: source,
      });
      opened.push(client);
      return { userId, client };
    };
    const slow = await member('127.0.0.60');
    const fast = await member('127.0.0.61');
    const tally = new Tally();
    const registry = new Map<string, SoakEvent>();
    const session = new Session(
      1,
      {
        hub: 'user',
        userId: fast.userId,
        deviceId: '',
        organizationIds: new Set([organizationId]),
        clientType: 2,
        installationId: undefined,
      },
      'the client that keeps reading',
      registry,
      tally,
    );
    session.state = 'live';
    fast.client.onInvocation = ({ target, args }) => session.receive(target, args[0]);
    let slowMessages = 0;
    slow.client.onInvocation = () => (slowMessages += 1);
    // Stops reading: what the gateway sends it piles up in the kernel's buffers, then in the gateway's.
    slow.client.socket.pause();

    const rssBefore = await rss();
    let rssPeak = rssBefore;
    const filler = 'x'.repeat(FILLER_BYTES);
    const closedSlow = () =>
      gateway.logs.some((line) => line.msg === 'closing connection' && line.reason === 'slow-consumer');
    let sent = 0;
    let sentBytes = 0;
    while (!closedSlow() && sentBytes < SLOW_CONSUMER_BUDGET_BYTES) {
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          const soakId = `s${(sent += 1)}`;
          const event: SoakEvent = {
            soakId,
            type: 18,
            payload: { OrganizationId: organizationId, Enabled: true, SoakId: soakId, Filler: filler },
            contextId: null,
          };
          registry.set(soakId, event);
          session.expect(soakId);
          await publisher.publish(event.type, event.payload);
          sentBytes += FILLER_BYTES;
        }),
      );
      if (sent % 160 === 0) rssPeak = Math.max(rssPeak, await rss());
    }
    const untilClosed = sentBytes;
    rssPeak = Math.max(rssPeak, await rss());
    // The reading client got everything, and the other one is gone once it reads again.
    const complete = await session.until(() => session.missing().length === 0, 60_000);
    session.finish();
    slow.client.socket.resume();
    const slowGone = await eventually(() => expect(slow.client.closed).toBe(true), {
      timeoutMs: 30_000,
    }).then(
      () => true,
      () => false,
    );
    const rssAfter = await rss();

    printFigures('slow-consumer', {
      eventBytes: FILLER_BYTES,
      eventsSentUntilClosed: sent,
      bytesSentUntilClosed: megabytes(untilClosed),
      closedAsSlowConsumer: closedSlow(),
      slowClientGone: slowGone,
      slowClientReadBeforeClose: slowMessages,
      slowClientCloseError: JSON.stringify(slow.client.closeError ?? null),
      readingClientReceived: `${tally.deliveries}/${sent}`,
      readingClientClosed: fast.client.closed,
      rssBefore: megabytes(rssBefore),
      rssPeak: megabytes(rssPeak),
      rssAfter: megabytes(rssAfter),
    });
    expect({
      slowGone,
      closedSlow: closedSlow(),
      complete,
      fastClosed: fast.client.closed,
      lost: tally.lostSamples,
      leaks: tally.leakSamples,
    }).toEqual({
      slowGone: true,
      closedSlow: true,
      complete: true,
      fastClosed: false,
      lost: [],
      leaks: [],
    });
    await fast.client.stop();
  });
});
