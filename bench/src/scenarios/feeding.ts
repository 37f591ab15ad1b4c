import { monitorEventLoopDelay } from 'node:perf_hooks';

import { type Feed, type Targets } from '../feed/feed';
import { type LatencyHistogram } from '../report/histogram';
import { CpuBreakdown, type ProcessCpu, writeSystemCalls } from '../report/process-usage';
import { grouped, sleep } from '../progress';
import { type ServerSession } from '../session';

/** How scenarios feed a server: as fast as the clients' receipts allow, or at a steady rate. */

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

/**
 * Feeds `targets` as fast as the clients' receipts allow: at most `window` messages owed and not
 * yet received, so the server always has work queued but never an unbounded backlog. Runs until
 * `stop()` is called; `owed` is the messages owed to the clients, `sent` the notifications sent.
 */
export class ClosedLoop {
  private running = true;
  owed = 0;
  sent = 0;
  readonly done: Promise<void>;

  constructor(
    private readonly session: ServerSession,
    private readonly feed: Feed,
    private readonly targets: Targets,
    private readonly window: number,
  ) {
    this.done = this.run();
  }

  stop(): Promise<void> {
    this.running = false;
    return this.done;
  }

  private async run(): Promise<void> {
    const { pool } = this.session;
    const base = pool.received;
    let yieldedAt = performance.now();
    while (this.running) {
      const group = this.targets.next();
      while (this.running && this.owed + group.members - (pool.received - base) > this.window) {
        await pool.nextReceipts(250);
        yieldedAt = performance.now();
      }
      if (!this.running) break;
      this.owed += group.members;
      this.sent += 1;
      await this.feed.publish(group);
      // Publishing resolves in microtasks: let acknowledgements, receipts and timers in now and then.
      if (performance.now() - yieldedAt > 5) {
        await new Promise((resolve) => setImmediate(resolve));
        yieldedAt = performance.now();
      }
    }
  }
}

export interface SaturationWindow {
  /** Wall-clock seconds measured. */
  seconds: number;
  /** Messages the load connections received in the window. */
  received: number;
  /** Notifications the feed had accepted (acknowledged, or answered 200) in the window. */
  accepted: number;
  /** CPU of every process at work in the window, by role (the first is the server under test). */
  processes: ProcessCpu[];
  /** Write system calls of the server under test (the first gateway) in the window. */
  serverWrites: number;
  /** Messages owed to clients and notifications sent by the closed loop, over the whole phase. */
  owed: number;
  sent: number;
}

/**
 * Saturates the server with a closed loop (`window` messages in flight at most): `warmupMs`, then
 * `measureMs` measured, with a progress line every 5 s; then waits for what is still owed.
 * `atEnd` runs as the measured window closes, before the loop stops (e.g. to read a backlog).
 */
export async function saturate(
  session: ServerSession,
  feed: Feed,
  targets: Targets,
  window: number,
  time: { warmupMs: number; measureMs: number },
  atEnd: () => Promise<void> = () => Promise.resolve(),
): Promise<SaturationWindow> {
  const { pool, server } = session;
  const startedWith = pool.received;
  const loop = new ClosedLoop(session, feed, targets, window);
  try {
    await sleep(time.warmupMs);
    const receivedBefore = pool.received;
    const acceptedBefore = feed.published;
    const cpu = await CpuBreakdown.start(await session.processes());
    const writesBefore = await writeSystemCalls(server.pid);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const measuredFrom = performance.now();
    for (let elapsed = 0; elapsed < time.measureMs; elapsed = performance.now() - measuredFrom) {
      await sleep(Math.min(5000, time.measureMs - elapsed));
      const seconds = (performance.now() - measuredFrom) / 1000;
      // The harness's own event-loop lag: a busy feeder must not be what limits the rate.
      session.log(
        `saturation ${grouped((pool.received - receivedBefore) / seconds)} deliveries/s so far ` +
          `(feeder event loop lag at most ${(lag.max / 1e6).toFixed(0)} ms)`,
      );
      lag.reset();
      pool.assertAlive();
      await session.real.verify();
    }
    const used = await cpu.read();
    const serverWrites = (await writeSystemCalls(server.pid)) - writesBefore;
    lag.disable();
    await atEnd();
    const received = pool.received - receivedBefore;
    const accepted = feed.published - acceptedBefore;
    await loop.stop();
    await feed.settle();
    const missing = await session.awaitReceipts(startedWith + loop.owed);
    if (missing > 0) session.log(`${grouped(missing)} messages of the saturation phase never arrived`);
    return {
      seconds: used.wallMs / 1000,
      received,
      accepted,
      processes: used.processes,
      serverWrites,
      owed: loop.owed,
      sent: loop.sent,
    };
  } finally {
    await loop.stop();
  }
}

/**
 * Feeds `targets` at a steady rate (open loop, as real traffic arrives): `perSecond` messages
 * owed to clients per second, for `durationMs`. Stops early when more than 5 s worth is owed.
 */
async function paced(
  session: ServerSession,
  feed: Feed,
  targets: Targets,
  perSecond: number,
  durationMs: number,
): Promise<{ owed: number; overloaded: boolean }> {
  const { pool } = session;
  const base = pool.received;
  const startedAt = performance.now();
  let owed = 0;
  for (let elapsed = 0; elapsed < durationMs; elapsed = performance.now() - startedAt) {
    const due = (perSecond * elapsed) / 1000;
    while (owed < due) {
      const group = targets.next();
      owed += group.members;
      await feed.publish(group);
    }
    if (owed - (pool.received - base) > perSecond * 5) return { owed, overloaded: true };
    await sleep(2);
  }
  return { owed, overloaded: false };
}

/**
 * Latency at a steady offered load: p50, p99 and p999 from each message's `BenchSentAt` to its
 * receipt, every message sent in the window counted, also those that arrive after it.
 */
export async function measureLatency(
  session: ServerSession,
  feed: Feed,
  targets: Targets,
  load: LatencyFigures['load'],
  perSecond: number,
  durationMs: number,
  why = load === 'own' ? 'half of its saturation' : "half of Herald's",
): Promise<LatencyFigures> {
  const { pool } = session;
  session.log(`latency at ${grouped(perSecond)} deliveries/s offered (${why})`);
  await pool.resetLatency();
  const base = pool.received;
  const { owed, overloaded } = await paced(session, feed, targets, perSecond, durationMs);
  await feed.settle();
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
