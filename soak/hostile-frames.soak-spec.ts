import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { HeraldPublisher } from '@herald/publisher';
import {
  deleteNamespace,
  eventually,
  HubClient,
  type ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
} from '@herald/testing';

import { megabytes, printFigures, progress, seconds } from './support/figures';
import {
  type AttackContext,
  type AttackResult,
  type Attack,
  CLOSING_ATTACKS,
  FLOODS,
  type HeldConnection,
  HELD_KINDS,
  holdOpen,
} from './support/hostile-attacks';
import { Random } from './support/random';
import { RawHubClient } from './support/raw-hub-client';
import { Services } from './support/services';
import { Session, type SoakEvent, Tally } from './support/session';

/**
 * A live gateway (and a dispatcher) serving well-behaved clients a steady stream of marked events,
 * while hostile connections from many source addresses throw at least 100,000 hostile frames at it:
 * random bytes, broken upgrades and handshakes, malformed MessagePack and JSON, WebSocket protocol
 * errors, huge length prefixes, deep nesting, oversize, floods of pings and of calls to methods
 * that do not exist, and half-open connections held for the whole run. Every marked event must
 * reach every well-behaved client, none of them may be closed, every attack that must be refused
 * is ended by the gateway, and the half-open connections the gateway times out are gone by the end.
 */

const NAME = 'hostile-frames';
const TARGET_FRAMES = Number(process.env.HERALD_SOAK_HOSTILE_FRAMES ?? 100_000);
/** At least this many attacks on connections of their own (the rest of the frames are floods). */
const MIN_CLOSING_ATTACKS = Number(process.env.HERALD_SOAK_HOSTILE_CONNECTIONS ?? 5000);
const CLOSING_WORKERS = 16;
const FLOOD_WORKERS = 3;
const HELD_PER_KIND = 30;
const WELL_BEHAVED_RAW = 12;
const WELL_BEHAVED_REAL = 2;
const DELIVERY_DEADLINE_MS = 60_000;
const PHASE_DEADLINE_MS = 420_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('hostile frames against a live gateway (soak)', () => {
  const namespace = testNamespace('soakhos');
  const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace, HERALD_LOG_LEVEL: 'info' };
  const random = Random.fromEnvironment();
  const services = new Services();
  let issuer: TestIssuer;
  let gateway: ServiceProcess;
  let publisher: HeraldPublisher;
  let cleanup: () => void = () => undefined;

  beforeAll(async () => {
    issuer = await TestIssuer.create();
    const started = await services.startAll([
      ['dispatcher', env],
      ['gateway', { ...env, HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem }],
    ]);
    gateway = started[1]!;
    publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
  }, 240_000);

  afterAll(async () => {
    cleanup();
    await publisher?.close();
    await services.stopAll();
    await deleteNamespace(namespace);
  }, 60_000);

  it('keeps serving well-behaved clients every marked event while hostile frames pour in', async () => {
    const rss = () => gateway.metric('herald_process_process_resident_memory_bytes');
    const gatewayAlive = () => {
      try {
        process.kill(gateway.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const tally = new Tally();
    const registry = new Map<string, SoakEvent>();
    const organizationId = random.uuid();
    const ws = gateway.url.replace('http', 'ws');

    // ---- well-behaved clients ------------------------------------------------------------------
    const sessions: Session[] = [];
    const stops: (() => Promise<void>)[] = [];
    let wellBehavedClosed = 0;
    for (let index = 0; index < WELL_BEHAVED_RAW + WELL_BEHAVED_REAL; index += 1) {
      const userId = random.uuid();
      const deviceId = random.uuid();
      const real = index >= WELL_BEHAVED_RAW;
      const protocol = index % 2 === 0 ? 'messagepack' : 'json';
      const session = new Session(
        index,
        {
          hub: 'user',
          userId,
          deviceId,
          organizationIds: new Set([organizationId]),
          clientType: 2,
          installationId: undefined,
        },
        `well-behaved ${index} (${real ? 'real' : 'raw'} ${protocol})`,
        registry,
        tally,
      );
      const token = await issuer.userToken(userId, { device: deviceId, orguser: organizationId });
      if (real) {
        const client = await HubClient.connect(`${gateway.url}/notifications/hub`, { token, protocol });
        client.connection.on('ReceiveMessage', (message: unknown) =>
          session.receive('ReceiveMessage', message),
        );
        client.connection.onclose(() => session.state !== 'closed' && (wellBehavedClosed += 1));
        stops.push(() => client.stop());
      } else {
        const client = await RawHubClient.connect(`${ws}/hub?access_token=${token}`, { protocol });
        client.onInvocation = ({ target, args }) => session.receive(target, args[0]);
        client.onClose = (byServer) => byServer && (wellBehavedClosed += 1);
        stops.push(() => client.stop());
      }
      session.state = 'live';
      sessions.push(session);
    }

    // ---- the marked stream ---------------------------------------------------------------------
    let streaming = true;
    let marked = 0;
    let publishFailures = 0;
    const stream = (async () => {
      for (let sequence = 0; streaming; sequence += 1) {
        const soakId = `m${sequence}`;
        const toOrganization = sequence % 5 === 4;
        const target = sessions[sequence % sessions.length]!;
        const event: SoakEvent = toOrganization
          ? {
              soakId,
              type: 18,
              payload: { OrganizationId: organizationId, Enabled: true, SoakId: soakId },
              contextId: null,
            }
          : {
              soakId,
              type: 8,
              payload: {
                Id: random.uuid(),
                UserId: target.recipient.hub === 'user' ? target.recipient.userId : '',
                RevisionDate: new Date().toISOString(),
                SoakId: soakId,
              },
              contextId: null,
            };
        registry.set(soakId, event);
        const expecting = sessions.filter((session) => session.expectsEvent(event));
        for (const session of expecting) session.expect(soakId);
        try {
          await publisher.publish(event.type, event.payload);
          marked += 1;
        } catch {
          publishFailures += 1;
          for (const session of expecting) session.unexpect(soakId);
        }
        await sleep(20);
      }
    })();

    // ---- hostile traffic -----------------------------------------------------------------------
    const hostileTokens = await Promise.all(
      Array.from({ length: 20 }, () => issuer.userToken(random.uuid(), { devicetype: 'LinuxCLI' })),
    );
    const forger = await TestIssuer.create();
    let sourceIndex = 0;
    const context: AttackContext = {
      port: gateway.port,
      // 127.0.3.1 – 127.0.3.250: per-address limits see many attackers, none of them the clients'.
      source: () => `127.0.3.${(sourceIndex++ % 250) + 1}`,
      random: new Random(random.seed + 1),
      userToken: () => hostileTokens[sourceIndex % hostileTokens.length]!,
      forgedToken: await forger.userToken(random.uuid()),
    };
    const rssBefore = await rss();
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      void rss()
        .then((value) => (rssPeak = Math.max(rssPeak, value)))
        .catch(() => undefined);
    }, 2000);

    const held: HeldConnection[] = [];
    for (const kind of HELD_KINDS) {
      for (let count = 0; count < HELD_PER_KIND; count += 1) held.push(await holdOpen(kind, context));
    }
    const heldAt = performance.now();
    cleanup = () => {
      streaming = false;
      clearInterval(sampler);
      for (const { connection } of held) connection.destroy();
    };

    const perAttack = new Map<string, { runs: number; frames: number; ended: number; failed: number }>();
    const failures: string[] = [];
    let frames = HELD_PER_KIND * HELD_KINDS.length;
    let floodFrames = 0;
    let closingRuns = 0;
    const started = performance.now();
    const run = async (attack: Attack): Promise<AttackResult | undefined> => {
      const entry = perAttack.get(attack.name) ?? { runs: 0, frames: 0, ended: 0, failed: 0 };
      perAttack.set(attack.name, entry);
      entry.runs += 1;
      try {
        const result = await attack.run(context);
        entry.frames += result.frames;
        if (result.endedByServer) entry.ended += 1;
        frames += result.frames;
        return result;
      } catch (error) {
        entry.failed += 1;
        if (failures.length < 10) failures.push(`${attack.name}: ${String(error)}`);
        return undefined;
      }
    };
    // The attack stops early if the gateway died (that fails the test below).
    const inTime = () => performance.now() - started < PHASE_DEADLINE_MS && gatewayAlive();
    const floodRandom = new Random(random.seed + 2);
    // Floods make up the volume; attacks on connections of their own go on beside them until
    // enough have been refused. Both stop once there are enough frames and enough refusals.
    const enough = () => frames >= TARGET_FRAMES && closingRuns >= MIN_CLOSING_ATTACKS;
    const floods = Array.from({ length: FLOOD_WORKERS }, async () => {
      while (!enough() && inTime()) {
        const result = await run(floodRandom.pick(FLOODS));
        floodFrames += result?.frames ?? 0;
      }
    });
    let lastProgress = started;
    const closings = Array.from({ length: CLOSING_WORKERS }, async () => {
      while (closingRuns < MIN_CLOSING_ATTACKS && inTime()) {
        closingRuns += 1;
        await run(context.random.pick(CLOSING_ATTACKS));
        if (performance.now() - lastProgress > 15_000) {
          lastProgress = performance.now();
          progress(
            NAME,
            `${seconds(lastProgress - started)}: ${frames} hostile frames, ${closingRuns} refused connections, ${marked} marked events`,
          );
        }
      }
    });
    await Promise.all([...floods, ...closings]);
    const hostileEnded = performance.now();

    // The half-open connections the gateway times out itself must be gone (their deadline is
    // counted from when they were opened; most passed long ago).
    const mustEnd = held.filter((entry) => entry.endsWithin !== undefined);
    await Promise.all(
      mustEnd.map((entry) =>
        entry.connection.waitEnded(Math.max(0, heldAt + entry.endsWithin! + 30_000 - performance.now())),
      ),
    );
    const heldEnded = (kind: string) =>
      held.filter((entry) => entry.name === kind && entry.connection.endedBy === 'server').length;

    // ---- the stream's end: every marked event arrived --------------------------------------------
    streaming = false;
    await stream;
    const deliveryDeadline = gatewayAlive() ? DELIVERY_DEADLINE_MS : 0;
    await Promise.all(
      sessions.map((session) => session.until(() => session.missing().length === 0, deliveryDeadline)),
    );
    for (const session of sessions) session.finish();
    // A newcomer is served as usual after all that.
    let newcomerServed = false;
    try {
      const newcomerId = random.uuid();
      const newcomer = await HubClient.connect(`${gateway.url}/hub`, {
        token: await issuer.userToken(newcomerId),
      });
      await publisher.publish(5, { UserId: newcomerId, Date: new Date() });
      await newcomer.next((invocation) => invocation.target === 'ReceiveMessage');
      await newcomer.stop();
      newcomerServed = true;
    } catch {
      // reported below
    }
    await Promise.all(stops.map((stop) => stop()));
    const heldFor = performance.now() - heldAt;
    for (const { connection } of held) connection.destroy();
    clearInterval(sampler);
    // Nothing hostile is left open on the gateway.
    const leftOpen = gatewayAlive()
      ? await eventually(
          async () => {
            const open = await gateway.metric('herald_gateway_connections');
            expect(open).toBe(0);
            return open;
          },
          { timeoutMs: 30_000 },
        ).catch(() => gateway.metric('herald_gateway_connections'))
      : Number.NaN;
    const rssAfter = await rss().catch(() => Number.NaN);
    const alive = gatewayAlive();

    // What the gateway said about it: its close reasons and refusals, from its log.
    const reasons = new Map<string, number>();
    for (const line of gateway.logs) {
      const key =
        line.msg === 'closing connection'
          ? String(line.reason)
          : line.msg === 'handshake refused'
            ? 'handshake-refused'
            : line.msg === 'upgrade refused'
              ? `http-${String(line.status)}`
              : undefined;
      if (key) reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
    const attacks = [...perAttack.entries()];
    const closingNames = new Set(CLOSING_ATTACKS.map((attack) => attack.name));
    const notEnded = attacks
      .filter(([name, entry]) => closingNames.has(name) && entry.ended + entry.failed < entry.runs)
      .map(
        ([name, entry]) => `${name}: ${entry.runs - entry.ended - entry.failed} of ${entry.runs} left open`,
      );
    const floodsClosed = attacks
      .filter(([name]) => !closingNames.has(name))
      .reduce((sum, [, entry]) => sum + entry.ended, 0);
    const closedByGateway =
      attacks.reduce((sum, [, entry]) => sum + entry.ended, 0) +
      held.filter((entry) => entry.connection.endedBy === 'server').length;

    printFigures(NAME, {
      seed: random.seed,
      hostileFrames: frames,
      floodFrames,
      hostileConnections: attacks.reduce((sum, [, entry]) => sum + entry.runs, 0) + held.length,
      closedByGateway,
      refusedAttacks: closingRuns,
      floodConnectionsClosedByGateway: floodsClosed,
      halfOpenHeld: held.length,
      halfOpenHeldFor: seconds(heldFor),
      halfOpenTimedOut: mustEnd.filter((entry) => entry.connection.endedBy === 'server').length,
      halfOpenTimeoutExpected: mustEnd.length,
      tcpSilentClosed: `${heldEnded('tcp-silent')}/${HELD_PER_KIND}`,
      httpPartialClosed: `${heldEnded('http-partial-request')}/${HELD_PER_KIND}`,
      gatewayReasons: [...reasons.entries()].map(([reason, count]) => `${reason}:${count}`).join(','),
      gatewayAlive: alive,
      newcomerServed,
      connectionsLeftOpen: leftOpen,
      wellBehaved: sessions.length,
      markedEvents: marked,
      deliveries: tally.deliveries,
      lost: tally.lost,
      leaks: tally.leaks,
      wellBehavedClosed,
      attackSetupFailures: attacks.reduce((sum, [, entry]) => sum + entry.failed, 0),
      rssBefore: megabytes(rssBefore),
      rssPeak: megabytes(rssPeak),
      rssAfter: megabytes(rssAfter),
      hostilePhase: seconds(hostileEnded - started),
      framesPerSecond: Math.round(frames / ((hostileEnded - started) / 1000)),
    });
    for (const [name, entry] of attacks) {
      process.stdout.write(
        `  ${name}: runs=${entry.runs} frames=${entry.frames} endedByGateway=${entry.ended} failed=${entry.failed}\n`,
      );
    }

    expect({ alive, newcomerServed, leftOpen }).toEqual({ alive: true, newcomerServed: true, leftOpen: 0 });
    expect({ leaks: tally.leakSamples, lost: tally.lostSamples, notEnded, failures }).toEqual({
      leaks: [],
      lost: [],
      notEnded: [],
      failures: [],
    });
    expect({ wellBehavedClosed, publishFailures, lost: tally.lost }).toEqual({
      wellBehavedClosed: 0,
      publishFailures: 0,
      lost: 0,
    });
    expect(
      mustEnd.filter((entry) => entry.connection.endedBy !== 'server').map((entry) => entry.name),
    ).toEqual([]);
    expect(frames).toBeGreaterThanOrEqual(TARGET_FRAMES);
    expect(tally.expected).toBe(tally.deliveries);
  });
});
