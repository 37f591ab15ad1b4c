import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type JetStreamManager, type KV, type NatsConnection } from 'nats';
import webpush from 'web-push';

import { deliveryCodec, type GatewayHeartbeat, natsNames } from '@herald/contracts';
import {
  eventually,
  FakeApns,
  FakeFcm,
  FakeWebPushEndpoint,
  type HeraldApp,
  type LogLine,
  NatsServerProcess,
  ServiceProcess,
  TestIssuer,
  testNamespace,
} from '@herald/testing';

import {
  CaseLedger,
  figuresLine,
  HubDevice,
  PushArrivals,
  type PushDevice,
  type Provider,
  type Recipients,
  type Tally,
} from './support/ledger';
import { PrivatePostgres } from './support/private-postgres';
import { SendPump } from './support/send-pump';

/** Users of the soak: each has one hub connection and one push device (FCM, APNs, Web Push in turn). */
const USERS = 12;
/** One `/send` every PACE_MS while a case streams (about 33 events a second, each a hub delivery and a push). */
const PACE_MS = 30;
/** Accepted events before a fault is injected, and after the service is back. */
const BEFORE = 100;
const AFTER = 100;
/** The push worker's concurrent sends: small, so the bound on a killed worker's repeats is tight. */
const PUSH_CONCURRENCY = 8;
/**
 * Push duplicates a NATS crash may cause: the push-sender consumer's max_ack_pending (4 × its batch
 * of 64) plus the dispatcher's (4 × 256) times one push device per user (see the NATS case).
 */
const NATS_PUSH_BOUND = 4 * 64 + 4 * 256;
/** How long PostgreSQL stays down, in events accepted meanwhile (about 13 s at the pace above). */
const POSTGRES_DOWN_EVENTS = 400;

/**
 * Faults under traffic (issue 13, part 1). One Herald cluster on a private nats-server and a
 * private PostgreSQL: two gateways holding a hub connection per user, one dispatcher, one push
 * worker (FCM, APNs and Web Push fakes, devices in PostgreSQL) and the heartbeat service. A vault
 * API posts events to `/send` on the gateway that is never killed; each case injects one fault
 * mid-stream, brings the service back, and then counts, per (event, target): every accepted event
 * must reach every hub connection of its user and every push device the user had, and copies
 * beyond the first are held to the bound the design gives (reasoned beside each bound). Each case
 * prints one figures line `[soak:faults:<case>] accepted=… delivered=… duplicated=… lost=…
 * retried=… dead-lettered=… pruned=…`; docs/reliability.md explains them.
 */
describe('faults under traffic', () => {
  const namespace = testNamespace('soakf');
  const names = natsNames(namespace);
  const soakStarted = performance.now();
  let server: NatsServerProcess;
  let postgres: PrivatePostgres;
  let issuer: TestIssuer;
  let fcm: FakeFcm;
  let apns: FakeApns;
  let browsers: FakeWebPushEndpoint;
  let arrivals: PushArrivals;
  let vapid: { publicKey: string; privateKey: string };
  let nats: NatsConnection;
  let manager: JetStreamManager;
  let pump: SendPump;
  /** Every process started, the killed ones too (their logs are counted). */
  const fleet: ServiceProcess[] = [];
  /** The current process of each role. */
  const live = {} as Record<'g1' | 'g2' | 'dispatcher' | 'worker' | 'heartbeat', ServiceProcess>;
  let g1Id = `${namespace}-g1`;
  const users: string[] = [];
  const recipients = new Map<string, Recipients>();
  /** Which gateway each hub device connects (and reconnects) to. */
  const home = new Map<HubDevice, 'g1' | 'g2'>();
  const hubDevices = () => [...recipients.values()].flatMap(({ hub }) => hub);
  const pushDevices = () => [...recipients.values()].flatMap(({ push }) => push);

  const baseEnv = () => ({
    HERALD_NATS_URL: server.url,
    HERALD_NAMESPACE: namespace,
    HERALD_LOG_LEVEL: 'info',
  });
  const gatewayEnv = (id: string) => ({
    ...baseEnv(),
    HERALD_GATEWAY_ID: id,
    HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
    // Devices away during a kill miss a few seconds of traffic; a backlog that long is replayed
    // rather than answered with a SyncVault (which would not show which events arrived).
    HERALD_REPLAY_MAX_MESSAGES: '1000',
  });
  const dispatcherEnv = () => ({ ...baseEnv(), HERALD_DISPATCHER_ACK_WAIT: '5s' });
  const workerEnv = (extra: Record<string, string> = {}) => ({
    ...baseEnv(),
    HERALD_DATABASE_URL: postgres.url,
    HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
    HERALD_FCM_SERVICE_ACCOUNT: fcmAccount,
    HERALD_FCM_API_URL: fcm.apiUrl,
    HERALD_FCM_TOKEN_URL: fcm.tokenUrl,
    HERALD_APNS_KEY: apns.key.pem,
    HERALD_APNS_KEY_ID: apns.key.keyId,
    HERALD_APNS_TEAM_ID: apns.key.teamId,
    HERALD_APNS_TOPIC: apns.topic,
    HERALD_APNS_HOST: apns.url,
    HERALD_VAPID_PUBLIC_KEY: vapid.publicKey,
    HERALD_VAPID_PRIVATE_KEY: vapid.privateKey,
    HERALD_VAPID_SUBJECT: 'mailto:ops@vault.example',
    // The fake push service listens on loopback, which Herald refuses unless the operator allows it.
    HERALD_WEBPUSH_ALLOWED_HOSTS: '127.0.0.1',
    HERALD_PUSH_CONCURRENCY: String(PUSH_CONCURRENCY),
    ...extra,
  });
  let fcmAccount: string;

  async function start(app: HeraldApp, env: Record<string, string>): Promise<ServiceProcess> {
    const service = await ServiceProcess.start(app, env, 30_000);
    fleet.push(service);
    return service;
  }

  const readiness = async (service: ServiceProcess) => {
    try {
      const response = await fetch(`${service.url}/health/ready`, { signal: AbortSignal.timeout(5_000) });
      return {
        status: response.status,
        checks: ((await response.json()) as { checks?: Record<string, boolean> }).checks ?? {},
      };
    } catch {
      return { status: 0, checks: {} };
    }
  };

  /** Where a case starts counting: each process's log position and the dead-letter count. */
  interface Mark {
    logs: Map<ServiceProcess, number>;
    dead: number;
    at: number;
  }
  const deadLetters = async () => (await manager.streams.info(names.streams.dead)).state.messages;
  const mark = async (): Promise<Mark> => ({
    logs: new Map(fleet.map((service) => [service, service.logs.length])),
    dead: await deadLetters(),
    at: performance.now(),
  });
  /** Log lines `msg` written since the mark, by every process (those started since included). */
  const logged = (
    since: Mark,
    msg: string,
    apps?: HeraldApp[],
    where: (line: LogLine) => boolean = () => true,
  ) =>
    fleet
      .filter((service) => !apps || apps.includes(service.app))
      .reduce(
        (sum, service) =>
          sum +
          service.logs.slice(since.logs.get(service) ?? 0).filter((line) => line.msg === msg && where(line))
            .length,
        0,
      );
  /**
   * A Web Push origin at its share of the worker's concurrency puts a push off ("busy"): a retry
   * that no provider caused, counted apart from those the fakes were told to cause.
   */
  const isBusy = (line: LogLine) => String(line['reason']).includes('as many pushes in flight as it may');
  /**
   * retried: retry decisions the consumers logged (a provider's transient answer, a handler that
   * threw); dead-lettered: messages added to the DEAD stream; pruned: registrations removed
   * because a provider said they are gone. Counted from logs and the stream, so a killed
   * process's share is not lost with its metrics.
   */
  const counts = async (since: Mark) => ({
    retried: logged(since, 'event will be retried', ['dispatcher', 'push-worker'], (line) => !isBusy(line)),
    busy: logged(since, 'event will be retried', ['push-worker'], isBusy),
    deadLettered: (await deadLetters()) - since.dead,
    pruned: logged(since, 'removed a dead push registration', ['push-worker']),
  });

  const newCase = (name: string) => new CaseLedger(name, (userId) => recipients.get(userId)!, arrivals);

  /** The dispatcher's and the push worker's consumers have nothing waiting and nothing in flight. */
  async function expectIdle(): Promise<void> {
    const consumers: [string, string][] = [
      [names.streams.events, names.consumers.dispatcher],
      [names.streams.push, names.consumers.pushResolver],
      [names.streams.push, names.consumers.pushSender],
      [names.streams.push, names.consumers.pushRelay],
    ];
    const busy: string[] = [];
    for (const [stream, consumer] of consumers) {
      const info = await manager.consumers.info(stream, consumer);
      if (info.num_pending + info.num_ack_pending > 0)
        busy.push(`${consumer}: ${info.num_pending} waiting, ${info.num_ack_pending} in flight`);
    }
    expect(busy).toEqual([]);
  }

  function reconnectAll(): void {
    for (const device of hubDevices()) device.reconnectIfClosed(live[home.get(device)!].url);
  }

  /**
   * Waits until every hub device is connected again, every accepted event has reached every
   * target, and the consumers are idle (whatever was in flight was redelivered and handled); then a
   * marker round, one event per user: once each marker arrived and the consumers are idle again,
   * no earlier copy is still on its way, and the case can be counted.
   */
  async function settle(ledger: CaseLedger, since: Mark, deliveryMs = 60_000): Promise<Tally> {
    await eventually(
      () => {
        reconnectAll();
        expect(hubDevices().filter((device) => !device.online)).toHaveLength(0);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const everything = async (timeoutMs: number) => {
      try {
        await eventually(() => expect(ledger.lost()).toBe(0), { timeoutMs, intervalMs: 250 });
      } catch (error) {
        const tally = ledger.tally();
        process.stdout.write(
          `\n[soak:faults:${ledger.name}] still missing ${tally.lost} of ${tally.expected}` +
            ` (dead-lettered so far: ${(await deadLetters()) - since.dead}, SyncVaults:` +
            ` ${hubDevices().reduce((sum, device) => sum + device.syncVaults, 0)}):` +
            ` ${tally.missing.slice(0, 5).join(', ')}\n`,
        );
        throw error;
      }
      // Messages a dead process (or a crashed server) left unacknowledged come back after the
      // consumer's ack wait: 60 s for the push worker's.
      await eventually(expectIdle, { timeoutMs: 90_000, intervalMs: 250 });
    };
    await everything(deliveryMs);
    const markers = await pump.round(ledger);
    expect(markers.map((marker) => marker.status)).toEqual(markers.map(() => 200));
    await everything(30_000);
    return ledger.tally();
  }

  /** Streams until `count` events were accepted since `since`. */
  async function acceptedSince(ledger: CaseLedger, since: number, count: number, timeoutMs = 30_000) {
    await eventually(() => expect(ledger.acceptedSince(since)).toBeGreaterThanOrEqual(count), {
      timeoutMs,
      intervalMs: 50,
    });
  }

  const pushDuplicates = (tally: Tally) =>
    [...tally.duplicatesByTarget]
      .filter(([target]) => !target.startsWith('hub:'))
      .reduce((s, [, n]) => s + n, 0);
  const hubDuplicates = (tally: Tally) => tally.duplicated - pushDuplicates(tally);

  const report = (line: string) => process.stdout.write(`\n${line}\n`);

  beforeAll(async () => {
    [server, postgres, issuer, fcm, apns, browsers] = await Promise.all([
      NatsServerProcess.launch(),
      PrivatePostgres.launch(),
      TestIssuer.create(),
      FakeFcm.start(),
      FakeApns.start({ topic: 'com.8bit.bitwarden' }),
      FakeWebPushEndpoint.start(),
    ]);
    fcmAccount = fcm.fakeServiceAccount('herald-soak');
    vapid = webpush.generateVAPIDKeys();
    arrivals = new PushArrivals(fcm, apns, browsers);
    nats = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    manager = await nats.jetstreamManager();

    [live.g1, live.g2, live.dispatcher, live.worker, live.heartbeat] = await Promise.all([
      start('gateway', gatewayEnv(g1Id)),
      start('gateway', gatewayEnv(`${namespace}-g2`)),
      start('dispatcher', dispatcherEnv()),
      start('push-worker', workerEnv()),
      start('heartbeat', baseEnv()),
    ]);

    const providers: Provider[] = ['fcm', 'apns', 'webpush'];
    for (let index = 0; index < USERS; index += 1) {
      const userId = randomUUID();
      users.push(userId);
      const hub = new HubDevice(userId, issuer);
      home.set(hub, index % 2 === 0 ? 'g1' : 'g2');
      await hub.connect(live[home.get(hub)!].url);
      const push = await register(userId, providers[index % providers.length]!);
      recipients.set(userId, { hub: [hub], push: [push] });
    }
    pump = new SendPump(() => live.g2.url, await issuer.internalToken({ expiresIn: 7200 }), users, PACE_MS);
  }, 120_000);

  /** Registers a device of the user with the push worker, as the Bitwarden app or extension does. */
  async function register(userId: string, provider: Provider): Promise<PushDevice> {
    const identifier = randomUUID();
    const devicetype = { fcm: 'Android', apns: 'iOS', webpush: 'ChromeExtension' }[provider];
    const token = await issuer.userToken(userId, { device: identifier, devicetype });
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };
    if (provider === 'webpush') {
      const subscription = browsers.subscription();
      const response = await fetch(`${live.worker.url}/devices/identifier/${identifier}/web-push-auth`, {
        method: 'POST',
        headers,
        body: JSON.stringify(subscription),
      });
      expect(response.status).toBe(200);
      return { userId, provider, identifier, address: new URL(subscription.endpoint).pathname };
    }
    const pushToken = provider === 'apns' ? randomUUID().replace(/-/g, '').repeat(2) : `fcm-${randomUUID()}`;
    const response = await fetch(`${live.worker.url}/devices/identifier/${identifier}/token`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ pushToken }),
    });
    expect(response.status).toBe(200);
    return { userId, provider, identifier, address: pushToken };
  }

  afterAll(async () => {
    await pump?.stop();
    await Promise.all(hubDevices().map((device) => device.stop()));
    await nats?.close();
    // The services drain into NATS and PostgreSQL on the way out: both are up (each case restores them).
    await Promise.all(fleet.map((service) => service.stop()));
    await Promise.all([fcm?.stop(), apns?.stop(), browsers?.stop()]);
    await Promise.all([server?.cleanup(), postgres?.cleanup()]);
    report(`[soak:faults] wall time ${Math.round((performance.now() - soakStarted) / 1000)} s`);
  }, 60_000);

  it('loses nothing when a gateway is killed mid-stream, and repeats at most what it sent after its last beat', async () => {
    const ledger = newCase('kill-gateway');
    const since = await mark();
    const bucket: KV = await nats.jetstream().views.kv(names.buckets.gateways, { bindOnly: true });
    pump.start(ledger);
    await acceptedSince(ledger, 0, BEFORE);
    // A beat of g1 whose watermark covers those events, then more traffic, then the kill: what
    // was sent before the beat must not come again, so a replay from too far back shows.
    const stored = (await manager.streams.info(names.streams.deliveries)).state.last_seq;
    await eventually(
      async () =>
        expect((await bucket.get(g1Id))?.json<GatewayHeartbeat>().watermark).toBeGreaterThanOrEqual(stored),
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    await acceptedSince(ledger, performance.now(), BEFORE / 2);

    await live.g1.stop('SIGKILL');
    const killedAt = performance.now();
    // What replay will resume g1's devices from: the dead gateway's last beat (it cannot answer).
    const lastBeat = (await bucket.get(g1Id))?.json<GatewayHeartbeat>();
    expect(lastBeat).toBeDefined();
    // Back as a new process, as a restarted pod or unit would be (the default id names the process).
    g1Id = `${namespace}-g1-${randomUUID().slice(0, 4)}`;
    live.g1 = await start('gateway', gatewayEnv(g1Id));
    const listeningAt = performance.now();
    await eventually(
      () => {
        reconnectAll();
        expect(hubDevices().filter((device) => !device.online)).toHaveLength(0);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const backAt = performance.now();
    await acceptedSince(ledger, backAt, AFTER);
    await pump.stop();
    const tally = await settle(ledger, since);

    // The bound. A device of the dead gateway resumes from that gateway's last beat (its
    // watermark: every delivery up to it had been written to the sockets), so it can get twice
    // only deliveries stored after that watermark which reached the dead gateway before the kill:
    // per device, its events with a DELIVERIES sequence past the beat's watermark whose `/send`
    // began before the kill. Devices of the other gateway, and every push, were not touched: 0.
    const sequences = await deliverySequencesAfter(lastBeat!.watermark);
    const boundOf = (device: HubDevice) =>
      home.get(device) !== 'g1'
        ? 0
        : ledger
            .accepted()
            .filter((event) => event.userId === device.userId && event.startedAt < killedAt)
            .filter((event) => sequences.has(event.id)).length;
    const over = hubDevices()
      .map((device) => ({
        device,
        copies: tally.duplicatesByTarget.get(device.key) ?? 0,
        bound: boundOf(device),
      }))
      .filter(({ copies, bound }) => copies > bound)
      .map(({ device, copies, bound }) => `${device.key}: ${copies} > ${bound}`);
    const bound = hubDevices().reduce((sum, device) => sum + boundOf(device), 0);
    report(
      figuresLine(ledger.name, tally, await counts(since), {
        bound,
        'sync-vaults': hubDevices().reduce((sum, device) => sum + device.syncVaults, 0),
        'restart-ms': Math.round(listeningAt - killedAt),
        'reconnected-ms': Math.round(backAt - killedAt),
      }),
    );
    expect(tally.lost).toBe(0);
    expect(over).toEqual([]);
    expect(pushDuplicates(tally)).toBe(0);
  }, 180_000);

  it('loses nothing when the dispatcher is killed mid-stream, and repeats nothing', async () => {
    const ledger = newCase('kill-dispatcher');
    const since = await mark();
    pump.start(ledger);
    await acceptedSince(ledger, 0, BEFORE);
    await live.dispatcher.stop('SIGKILL');
    const killedAt = performance.now();
    live.dispatcher = await start('dispatcher', dispatcherEnv());
    const backAt = performance.now();
    await acceptedSince(ledger, backAt, AFTER);
    await pump.stop();
    const tally = await settle(ledger, since);
    // The bound is 0. The dead dispatcher's unacknowledged events are routed again after the ack
    // wait (5 s here); the one it was routing when it died had some deliveries and push jobs
    // published already. Deliveries carry `Nats-Msg-Id` (stored once) and reach the live
    // subscriptions again, where each group drops an event id it already delivered (last 1024);
    // push jobs carry `Nats-Msg-Id` = event + target, so PUSH stores each once (2 min window).
    report(
      figuresLine(ledger.name, tally, await counts(since), {
        bound: 0,
        'restart-ms': Math.round(backAt - killedAt),
      }),
    );
    expect(tally.lost).toBe(0);
    expect(tally.duplicated).toBe(0);
  }, 180_000);

  it('loses no push when the push worker is killed mid-stream, and repeats at most the sends it had in flight', async () => {
    const ledger = newCase('kill-push-worker');
    const since = await mark();
    pump.start(ledger);
    await acceptedSince(ledger, 0, BEFORE);
    await live.worker.stop('SIGKILL');
    const killedAt = performance.now();
    live.worker = await start('push-worker', workerEnv());
    const backAt = performance.now();
    await acceptedSince(ledger, backAt, AFTER);
    await pump.stop();
    // What the dead worker held is redelivered once its ack wait (60 s) has passed.
    const tally = await settle(ledger, since, 120_000);
    // The bound. A device push is acknowledged right after its provider answered, so a push can
    // reach a device twice only if the worker died between the provider's answer and the ack
    // reaching NATS: the sends in progress (at most HERALD_PUSH_CONCURRENCY) plus those finished
    // whose ack was still in the process's buffers (no more than were in progress a moment
    // before): 2 × PUSH_CONCURRENCY. Jobs it was resolving are resolved again, but their device
    // pushes carry `Nats-Msg-Id` = job + device and are stored once. Hub traffic: untouched, 0.
    const bound = 2 * PUSH_CONCURRENCY;
    report(
      figuresLine(ledger.name, tally, await counts(since), {
        bound,
        'settled-ms': Math.round(performance.now() - killedAt),
      }),
    );
    expect(tally.lost).toBe(0);
    expect(pushDuplicates(tally)).toBeLessThanOrEqual(bound);
    expect(hubDuplicates(tally)).toBe(0);
  }, 240_000);

  it('loses nothing when the heartbeat service is killed mid-stream, and reports the cluster again once back', async () => {
    const ledger = newCase('kill-heartbeat');
    const since = await mark();
    pump.start(ledger);
    await acceptedSince(ledger, 0, BEFORE);
    await live.heartbeat.stop('SIGKILL');
    live.heartbeat = await start('heartbeat', baseEnv());
    const backAt = performance.now();
    // The new process rebuilds the picture from the beats alone: both live gateways.
    await eventually(
      async () => {
        const info = (await (await fetch(`${live.heartbeat.url}/info`)).json()) as {
          gateways: { id: string }[];
        };
        expect(info.gateways.map(({ id }) => id).sort()).toEqual([g1Id, `${namespace}-g2`].sort());
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await acceptedSince(ledger, backAt, AFTER);
    await pump.stop();
    const tally = await settle(ledger, since);
    // The bound is 0: the heartbeat service is not on the delivery path.
    report(figuresLine(ledger.name, tally, await counts(since), { bound: 0 }));
    expect(tally.lost).toBe(0);
    expect(tally.duplicated).toBe(0);
  }, 180_000);

  it('loses no accepted event when the NATS server is killed and restarted mid-stream', async () => {
    const ledger = newCase('nats-restart');
    const since = await mark();
    pump.start(ledger);
    await acceptedSince(ledger, 0, BEFORE);
    // kill -9: no shutdown, whatever the server had not written to its store is gone with it.
    await server.stop('SIGKILL');
    const stoppedAt = performance.now();
    const services = [live.g1, live.g2, live.dispatcher, live.worker, live.heartbeat];
    await eventually(
      async () => {
        const statuses = await Promise.all(
          services.map(async (service) => (await readiness(service)).status),
        );
        expect(statuses).toEqual(services.map(() => 503));
        expect(
          ledger.events.filter((event) => event.startedAt >= stoppedAt && event.status !== undefined).length,
        ).toBeGreaterThanOrEqual(50);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const restartedAt = performance.now();
    await server.start();
    await eventually(
      async () => {
        const statuses = await Promise.all(
          services.map(async (service) => (await readiness(service)).status),
        );
        expect(statuses).toEqual(services.map(() => 200));
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const readyAt = performance.now();
    await acceptedSince(ledger, readyAt, AFTER);
    await pump.stop();
    const tally = await settle(ledger, since);
    // While the server was away nothing was acknowledged: /send answered 503 (or failed).
    const whileDown = ledger.events.filter(
      (event) => event.startedAt >= stoppedAt && event.endedAt !== undefined && event.endedAt <= restartedAt,
    );
    report(
      figuresLine(ledger.name, tally, await counts(since), {
        bound: NATS_PUSH_BOUND,
        'hub-duplicated': hubDuplicates(tally),
        'push-duplicated': pushDuplicates(tally),
        'refused-while-down': whileDown.filter((event) => event.status !== 200).length,
        'outage-ms': Math.round(restartedAt - stoppedAt),
        'ready-after-ms': Math.round(readyAt - restartedAt),
      }),
    );
    expect(whileDown.filter((event) => event.status === 200)).toEqual([]);
    expect(tally.lost).toBe(0);
    // Hub: 0. After the restart each gateway reads every group back from its watermark and drops
    // event ids the group already delivered; events the dispatcher routes again (its acks of the
    // last moments died with the server) reach the same groups and are dropped the same way.
    expect(hubDuplicates(tally)).toBe(0);
    // Push: a device push is repeated only if JetStream hands it out again. A killed server keeps
    // what it wrote to its store but not the acks it had not yet processed, so it hands out again
    // at most what the push worker held unacknowledged (the push-sender consumer's
    // max_ack_pending), and the dispatcher routes again at most the events it held (its
    // max_ack_pending); a job routed again is stored again once the first copy was consumed (a
    // work queue forgets consumed messages, and with them their Nats-Msg-Id), one push per user's
    // device here. A loose bound: the measured figure is printed beside it.
    expect(pushDuplicates(tally)).toBeLessThanOrEqual(NATS_PUSH_BOUND);
  }, 240_000);

  it('retries push jobs while PostgreSQL is restarted under the push worker, and loses none', async () => {
    const ledger = newCase('postgres-restart');
    const since = await mark();
    pump.start(ledger);
    await acceptedSince(ledger, 0, BEFORE);
    // A restart: the server terminates every session (the worker's pool included) and refuses
    // connections until it is back.
    await postgres.stop('fast');
    const stoppedAt = performance.now();
    await eventually(
      async () =>
        expect(await readiness(live.worker)).toEqual({
          status: 503,
          checks: expect.objectContaining({ database: false }),
        }),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await acceptedSince(ledger, stoppedAt, POSTGRES_DOWN_EVENTS, 60_000);
    await postgres.start();
    const restartedAt = performance.now();
    await eventually(
      async () =>
        expect(await readiness(live.worker)).toEqual({
          status: 200,
          checks: expect.objectContaining({ database: true }),
        }),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const readyAt = performance.now();
    await acceptedSince(ledger, readyAt, AFTER);
    await pump.stop();
    const tally = await settle(ledger, since, 120_000);
    const figures = await counts(since);
    // The bound is 0. A device push is read from the database before it is sent, and a push the
    // provider accepted is acknowledged without touching the database (no failures to reset
    // here), so the outage can delay pushes but never repeat one. Hub traffic does not use it.
    report(
      figuresLine(ledger.name, tally, figures, {
        bound: 0,
        'outage-ms': Math.round(restartedAt - stoppedAt),
        'ready-after-ms': Math.round(readyAt - restartedAt),
      }),
    );
    expect(figures.retried).toBeGreaterThan(0);
    expect(figures.deadLettered).toBe(0);
    expect(tally.lost).toBe(0);
    expect(tally.duplicated).toBe(0);
  }, 240_000);

  it('retries, prunes and dead-letters exactly what the providers were told to cause', async () => {
    const ledger = newCase('providers');
    const since = await mark();
    const sendsBefore = {
      retry: await live.worker.metric('herald_push_sends_total', { outcome: 'retry' }, { absentAs: 0 }),
      gone: await live.worker.metric('herald_push_sends_total', { outcome: 'gone' }, { absentAs: 0 }),
    };
    const byProvider = (provider: Provider) => pushDevices().filter((device) => device.provider === provider);

    // Transient answers, one request each (the fakes answer their queue in order): 500, 429 with
    // Retry-After, and no answer at all (the sender gives up after its 10 s timeout). At most four
    // per provider, so the circuit breaker (five failures in a row) stays closed.
    fcm
      .respondWith(500, { error: { status: 'INTERNAL' } })
      .respondWith(500, { error: { status: 'INTERNAL' } })
      .respondWith(429, { error: { status: 'RESOURCE_EXHAUSTED' } }, { 'retry-after': '2' })
      .stallNext();
    arrivals.scriptApns([
      { status: 500, reason: 'InternalServerError' },
      { status: 429, reason: 'TooManyRequests', retryAfter: '2' },
      { status: 0, stall: true },
    ]);
    browsers.respondWith(500).respondWith(429, { 'Retry-After': '2' }).stallNext();
    const TRANSIENT = 4 + 3 + 3;
    await pump.round(ledger);
    await pump.round(ledger);
    await eventually(() => expect(ledger.lost()).toBe(0), { timeoutMs: 60_000, intervalMs: 250 });
    await eventually(expectIdle, { timeoutMs: 30_000, intervalMs: 250 });
    const afterTransient = await counts(since);

    // Gone: FCM 404 UNREGISTERED, APNs 410 Unregistered, Web Push 410 and 404. One event per user,
    // so every device is asked once and each gone answer names a different device.
    fcm.respondWith(404, {
      error: {
        status: 'NOT_FOUND',
        details: [
          { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' },
        ],
      },
    });
    arrivals.scriptApns([{ status: 410, reason: 'Unregistered' }]);
    browsers.respondWith(410).respondWith(404);
    const GONE = 4;
    const goneRound = await pump.round(ledger);
    await eventually(() => expect(logged(since, 'removed a dead push registration')).toBe(GONE), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const pruned: PushDevice[] = [];
    for (const event of goneRound) {
      for (const device of recipients.get(event.userId)!.push) {
        if (arrivals.answers(device, event.id).some((status) => status === 404 || status === 410)) {
          pruned.push(device);
          ledger.excuse(device, event.id, 'pruned');
          device.removedAt = performance.now();
        }
      }
    }
    expect(pruned.map((device) => device.provider).sort()).toEqual(['apns', 'fcm', 'webpush', 'webpush']);
    // A round after the pruning: the pruned devices are not asked again (the ledger no longer
    // expects them), the others are.
    const afterPruning = await pump.round(ledger);
    await eventually(() => expect(ledger.lost()).toBe(0), { timeoutMs: 30_000, intervalMs: 250 });
    await eventually(expectIdle, { timeoutMs: 30_000, intervalMs: 250 });
    expect(
      pruned.flatMap((device) => afterPruning.flatMap((event) => arrivals.answers(device, event.id))),
    ).toEqual([]);
    const sendsOfFirstWorker = {
      retry: (await live.worker.metric('herald_push_sends_total', { outcome: 'retry' })) - sendsBefore.retry,
      gone: (await live.worker.metric('herald_push_sends_total', { outcome: 'gone' })) - sendsBefore.gone,
    };
    expect(sendsOfFirstWorker).toEqual({ retry: TRANSIENT, gone: GONE });

    // Dead letters: a provider that keeps failing until the attempts run out, and one that refuses
    // the message. The worker is restarted with three attempts so the first takes seconds.
    expect(await live.worker.stop()).toBe(0);
    live.worker = await start('push-worker', workerEnv({ HERALD_PUSH_MAX_ATTEMPTS: '3' }));
    const [exhausted, refused] = byProvider('fcm').filter((device) => device.removedAt === undefined);
    fcm
      .respondWith(500, { error: { status: 'INTERNAL' } })
      .respondWith(500, { error: { status: 'INTERNAL' } })
      .respondWith(500, { error: { status: 'INTERNAL' } });
    const EXHAUSTED_RETRIES = 2;
    const failing = await pump.send(ledger, exhausted!.userId);
    ledger.excuse(exhausted!, failing.id, 'dead');
    await eventually(async () => expect((await counts(since)).deadLettered).toBe(1), { timeoutMs: 30_000 });
    fcm.respondWith(400, {
      error: { status: 'INVALID_ARGUMENT', message: 'Invalid JSON payload received.' },
    });
    const rejected = await pump.send(ledger, refused!.userId);
    ledger.excuse(refused!, rejected.id, 'dead');
    await eventually(async () => expect((await counts(since)).deadLettered).toBe(2), { timeoutMs: 30_000 });
    expect(arrivals.answers(exhausted!, failing.id)).toEqual([500, 500, 500]);
    expect(arrivals.answers(refused!, rejected.id)).toEqual([400]);

    const tally = await settle(ledger, since);
    const figures = await counts(since);
    report(
      figuresLine(ledger.name, tally, figures, {
        'transient-told': TRANSIENT,
        'gone-told': GONE,
        'retried-after-transient': afterTransient.retried,
      }),
    );
    expect(figures).toEqual({
      retried: TRANSIENT + EXHAUSTED_RETRIES,
      busy: expect.any(Number),
      deadLettered: 2,
      pruned: GONE,
    });
    expect(tally.lost).toBe(0);
    expect(tally.excused).toBe(GONE + 2);
    // Failed attempts are not copies: every push the providers accepted, they accepted once.
    expect(tally.duplicated).toBe(0);
  }, 240_000);

  /** DELIVERIES from `watermark + 1` to its end: the cipher id each delivery carried → its sequence. */
  async function deliverySequencesAfter(watermark: number): Promise<Map<string, number>> {
    const last = (await manager.streams.info(names.streams.deliveries)).state.last_seq;
    const sequences = new Map<string, number>();
    for (let seq = watermark + 1; seq <= last; seq += 1) {
      const message = await manager.streams.getMessage(names.streams.deliveries, { seq });
      const id = deliveryCodec.decode(message.data).message.Payload['Id'];
      if (typeof id === 'string' && !sequences.has(id)) sequences.set(id, seq);
    }
    return sequences;
  }
});
