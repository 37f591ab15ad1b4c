import { DeliveryFeed } from '../feed/delivery-feed';
import { TargetCycle } from '../population';
import { grouped } from '../progress';
import { type ProcessCpu } from '../report/process-usage';
import { type ServerName } from '../servers/servers';
import { type BenchContext, type ConnectFigures, type ServerSession } from '../session';
import { type LatencyFigures, measureLatency, saturate } from './feeding';
import { type Scenario } from './scenario';

export type { LatencyFigures };

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
    /** Every process's CPU over the window, by role: where the machine's cores went. */
    processes?: ProcessCpu[];
  };
  latency: LatencyFigures[];
}

const CONNECT_CONCURRENCY = 64;

interface Durations {
  warmupMs: number;
  saturationMs: number;
  latencyMs: number;
}

/** `short`: the phases of the `standalone` scenario, which must fit beside the others in `all`. */
export function fanoutDurations(quick: boolean, short = false): Durations {
  if (quick) return { warmupMs: 2000, saturationMs: 8000, latencyMs: 5000 };
  return short
    ? { warmupMs: 5000, saturationMs: 20_000, latencyMs: 10_000 }
    : { warmupMs: 5000, saturationMs: 30_000, latencyMs: 12_000 };
}

/** Enough in flight to cover the receipts' trip back over IPC, and at least three org-wide deliveries. */
export function fanoutWindow(clients: number): number {
  return Math.max(3 * clients, 30_000);
}

/** The fan-out scenario on an open session; `standalone` runs it with shorter phases. */
export async function runFanout(
  session: ServerSession,
  context: BenchContext,
  earlier: Partial<Record<ServerName, FanoutResult>>,
  time: Durations,
): Promise<FanoutResult> {
  const { population } = context;
  const connect = await session.connectLoad(CONNECT_CONCURRENCY);
  if (connect.connected < connect.attempted)
    throw new Error(`${session.server.name}: not every client connected`);
  const cycle = new TargetCycle(population);
  const window = fanoutWindow(population.everyone.members);

  session.log(`saturating: closed loop, ${grouped(window)} messages in flight at most`);
  const measured = await saturate(session, session.feed, cycle, window, {
    warmupMs: time.warmupMs,
    measureMs: time.saturationMs,
  });
  const { seconds, received } = measured;
  const serverCpuMs = measured.processes[0]!.cpuMs;
  const saturation = {
    seconds,
    deliveriesPerSecond: received / seconds,
    natsMessagesPerSecond: measured.accepted / seconds,
    serverCpuMs,
    cpuMicrosecondsPerDelivery: (serverCpuMs * 1000) / Math.max(received, 1),
    deliveriesPerCoreSecond: received / Math.max(serverCpuMs / 1000, 0.001),
    writeCallsPerDelivery: measured.serverWrites / Math.max(received, 1),
    window,
    processes: measured.processes,
  };
  session.log(
    `saturation ${grouped(saturation.deliveriesPerSecond)} deliveries/s, ` +
      `${saturation.cpuMicrosecondsPerDelivery.toFixed(1)} µs server CPU per delivery`,
  );

  const latency: LatencyFigures[] = [];
  const own = saturation.deliveriesPerSecond / 2;
  const heraldHalf = earlier.herald ? earlier.herald.saturation.deliveriesPerSecond / 2 : undefined;
  latency.push(await measureLatency(session, session.feed, cycle, 'own', own, time.latencyMs));
  if (heraldHalf !== undefined && session.server.name !== 'herald') {
    latency.push(await measureLatency(session, session.feed, cycle, 'common', heraldHalf, time.latencyMs));
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
}

export const fanout: Scenario<FanoutResult> = {
  name: 'fanout',
  servers: (requested) => requested,
  async run(open, context, earlier) {
    return runFanout(await open(), context, earlier, fanoutDurations(context.options.quick));
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
