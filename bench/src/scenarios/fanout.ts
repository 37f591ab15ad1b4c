import { monitorEventLoopDelay } from 'node:perf_hooks';

import { DeliveryFeed } from '../feed/delivery-feed';
import { type LatencyHistogram } from '../report/histogram';
import { CpuMeter, writeSystemCalls } from '../report/process-usage';
import { TargetCycle } from '../population';
import { grouped, sleep } from '../progress';
import { type ConnectFigures, type ServerSession } from '../session';
import { type Scenario } from './scenario';

export interface LatencyFigures {
  /** `own`: half of this server's saturation; `common`: half of Herald's, the same offered load for all. */
  load: 'own' | 'common';
  offeredPerSecond: number;
  /** The load could not be held: messages owed piled up past 5 s worth, so feeding stopped early. */
  overloaded: boolean;
  expected: number;
  received: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface FanoutResult {
  connect: ConnectFigures;
  /** Sizes of a delivery on NATS and of the SignalR message it becomes (per-user and org-wide). */
  sizes: {
    user: { natsBytes: number; signalRBytes: number };
    organization: { natsBytes: number; signalRBytes: number };
  };
  saturation: {
    seconds: number;
    /** Messages received by the load connections per second. */
    deliveriesPerSecond: number;
    /** NATS delivery messages published per second meanwhile. */
    natsMessagesPerSecond: number;
    serverCpuMs: number;
    cpuMicrosecondsPerDelivery: number;
    /** Deliveries per second of server CPU time: throughput per core, whatever the machine lent it. */
    deliveriesPerCoreSecond: number;
    /** Write system calls of the server per delivery: below 1 when several messages share a write. */
    writeCallsPerDelivery: number;
    /** Receipts allowed in flight (closed loop). */
    window: number;
  };
  latency: LatencyFigures[];
}

const CONNECT_CONCURRENCY = 64;

interface Durations {
  warmupMs: number;
  saturationMs: number;
  latencyMs: number;
}

function durations(quick: boolean): Durations {
  return quick
    ? { warmupMs: 2000, saturationMs: 8000, latencyMs: 5000 }
    : { warmupMs: 5000, saturationMs: 30_000, latencyMs: 12_000 };
}

/**
 * Feeds the fan-out mix as fast as the clients' receipts allow: at most `window` messages owed
 * and not yet received, so the server always has work queued but never an unbounded backlog.
 * Runs until `stop()` is called; resolves with the messages owed.
 */
class ClosedLoop {
  private running = true;
  owed = 0;
  readonly done: Promise<void>;

  constructor(
    private readonly session: ServerSession,
    private readonly cycle: TargetCycle,
    private readonly window: number,
  ) {
    this.done = this.run();
  }

  stop(): Promise<void> {
    this.running = false;
    return this.done;
  }

  private async run(): Promise<void> {
    const { pool, feed } = this.session;
    const base = pool.received;
    let yieldedAt = performance.now();
    while (this.running) {
      const group = this.cycle.next();
      while (this.running && this.owed + group.members - (pool.received - base) > this.window) {
        await pool.nextReceipts(250);
        yieldedAt = performance.now();
      }
      if (!this.running) break;
      this.owed += group.members;
      await feed.publish(group);
      // Publishing resolves in microtasks: let acknowledgements, receipts and timers in now and then.
      if (performance.now() - yieldedAt > 5) {
        await new Promise((resolve) => setImmediate(resolve));
        yieldedAt = performance.now();
      }
    }
  }
}

/**
 * Feeds the mix at a steady rate (open loop, as real traffic arrives): `perSecond` messages owed
 * to clients per second, for `durationMs`. Stops early when more than 5 s worth is owed.
 */
async function paced(
  session: ServerSession,
  cycle: TargetCycle,
  perSecond: number,
  durationMs: number,
): Promise<{ owed: number; overloaded: boolean }> {
  const { pool, feed } = session;
  const base = pool.received;
  const startedAt = performance.now();
  let owed = 0;
  for (let elapsed = 0; elapsed < durationMs; elapsed = performance.now() - startedAt) {
    const due = (perSecond * elapsed) / 1000;
    while (owed < due) {
      const group = cycle.next();
      owed += group.members;
      await feed.publish(group);
    }
    if (owed - (pool.received - base) > perSecond * 5) return { owed, overloaded: true };
    await sleep(2);
  }
  return { owed, overloaded: false };
}

async function measureLatency(
  session: ServerSession,
  cycle: TargetCycle,
  load: LatencyFigures['load'],
  perSecond: number,
  durationMs: number,
): Promise<LatencyFigures> {
  const { pool } = session;
  session.log(
    `latency at ${grouped(perSecond)} deliveries/s offered (${load === 'own' ? 'half of its saturation' : "half of Herald's"})`,
  );
  await pool.resetLatency();
  const base = pool.received;
  const { owed, overloaded } = await paced(session, cycle, perSecond, durationMs);
  await session.feed.settle();
  await session.awaitReceipts(base + owed);
  const histogram: LatencyHistogram = await pool.collectLatency();
  const figures: LatencyFigures = {
    load,
    offeredPerSecond: perSecond,
    overloaded,
    expected: owed,
    received: pool.received - base,
    p50: histogram.percentile(0.5),
    p99: histogram.percentile(0.99),
    p999: histogram.percentile(0.999),
    max: histogram.max,
    mean: histogram.mean,
  };
  session.log(
    `latency p50 ${figures.p50.toFixed(1)} ms, p99 ${figures.p99.toFixed(1)} ms, p999 ${figures.p999.toFixed(1)} ms` +
      ` (${grouped(figures.received)}/${grouped(figures.expected)} received${overloaded ? ', OVERLOADED' : ''})`,
  );
  return figures;
}

export const fanout: Scenario<FanoutResult> = {
  name: 'fanout',
  async run(session, context, earlier) {
    const { population, options } = context;
    const time = durations(options.quick);
    const connect = await session.connectLoad(CONNECT_CONCURRENCY);
    if (connect.connected < connect.attempted)
      throw new Error(`${session.server.name}: not every client connected`);
    const cycle = new TargetCycle(population);
    // Enough in flight to cover the receipts' trip back over IPC, and at least three org-wide deliveries.
    const window = Math.max(3 * population.everyone.members, 30_000);

    session.log(`saturating: closed loop, ${grouped(window)} messages in flight at most`);
    const loop = new ClosedLoop(session, cycle, window);
    await sleep(time.warmupMs);
    const receivedBefore = session.pool.received;
    const publishedBefore = session.feed.published;
    const cpu = await CpuMeter.start(session.server.pid);
    const writesBefore = await writeSystemCalls(session.server.pid);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const measuredFrom = performance.now();
    for (let elapsed = 0; elapsed < time.saturationMs; elapsed = performance.now() - measuredFrom) {
      await sleep(Math.min(5000, time.saturationMs - elapsed));
      const seconds = (performance.now() - measuredFrom) / 1000;
      // The harness's own event-loop lag: a busy feeder must not be what limits the rate.
      session.log(
        `saturation ${grouped((session.pool.received - receivedBefore) / seconds)} deliveries/s so far ` +
          `(feeder event loop lag at most ${(lag.max / 1e6).toFixed(0)} ms)`,
      );
      lag.reset();
      session.pool.assertAlive();
      await session.real.verify();
    }
    const used = await cpu.read();
    const writes = (await writeSystemCalls(session.server.pid)) - writesBefore;
    lag.disable();
    const received = session.pool.received - receivedBefore;
    const published = session.feed.published - publishedBefore;
    await loop.stop();
    await session.feed.settle();
    const missing = await session.awaitReceipts(loop.owed);
    if (missing > 0) session.log(`${grouped(missing)} messages of the saturation phase never arrived`);
    const seconds = used.wallMs / 1000;
    const saturation = {
      seconds,
      deliveriesPerSecond: received / seconds,
      natsMessagesPerSecond: published / seconds,
      serverCpuMs: used.cpuMs,
      cpuMicrosecondsPerDelivery: (used.cpuMs * 1000) / Math.max(received, 1),
      deliveriesPerCoreSecond: received / Math.max(used.cpuMs / 1000, 0.001),
      writeCallsPerDelivery: writes / Math.max(received, 1),
      window,
    };
    session.log(
      `saturation ${grouped(saturation.deliveriesPerSecond)} deliveries/s, ` +
        `${saturation.cpuMicrosecondsPerDelivery.toFixed(1)} µs server CPU per delivery`,
    );

    const latency: LatencyFigures[] = [];
    const own = saturation.deliveriesPerSecond / 2;
    const heraldHalf = earlier.herald ? earlier.herald.saturation.deliveriesPerSecond / 2 : undefined;
    latency.push(await measureLatency(session, cycle, 'own', own, time.latencyMs));
    if (heraldHalf !== undefined && session.server.name !== 'herald') {
      latency.push(await measureLatency(session, cycle, 'common', heraldHalf, time.latencyMs));
    }
    await session.probe();
    return {
      connect,
      sizes: {
        user: DeliveryFeed.sizes(population.users[0]!),
        organization: DeliveryFeed.sizes(population.everyone),
      },
      saturation,
      latency,
    };
  },
};

/**
 * The latency figures at one offered load for every server: half of Herald's saturation (Herald's
 * own run, the others' `common` run); without Herald in the run, each server's own half.
 */
export function commonLatency(
  result: FanoutResult | undefined,
  server: string,
  withHerald: boolean,
): LatencyFigures | undefined {
  const load = withHerald && server !== 'herald' ? 'common' : 'own';
  return result?.latency.find((figures) => figures.load === load);
}
