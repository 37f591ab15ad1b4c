import { TargetCycle } from '../population';
import { grouped } from '../progress';
import { type ProcessCpu } from '../report/process-usage';
import { type ConnectFigures, type OpenSession } from '../session';
import { type BenchContext } from '../session';
import { fanoutWindow } from './fanout';
import { saturate } from './feeding';
import { type Scenario } from './scenario';

export interface ScaleRun {
  gateways: number;
  connect: ConnectFigures;
  seconds: number;
  /** Messages the load connections received per second, from every gateway together. */
  deliveriesPerSecond: number;
  natsMessagesPerSecond: number;
  /** Every gateway's CPU together per delivery. */
  gatewayCpuMicrosecondsPerDelivery: number;
  /** Every process's CPU over the window, by role, the gateways first: where the cores went. */
  processes: ProcessCpu[];
}

export interface ScaleResult {
  one: ScaleRun;
  two: ScaleRun;
  /** Deliveries per second with two gateways over one: issue 14 asks ≥ 1.8. */
  ratio: number;
}

const CONNECT_CONCURRENCY = 64;

async function saturateWith(open: OpenSession, context: BenchContext, gateways: number): Promise<ScaleRun> {
  const { population, options } = context;
  const session = await open({ gateways });
  const connect = await session.connectLoad(CONNECT_CONCURRENCY);
  if (connect.connected < connect.attempted)
    throw new Error(`${gateways} gateways: not every client connected`);
  const window = fanoutWindow(population.everyone.members);
  session.log(
    `${gateways} gateway${gateways > 1 ? 's' : ''}: saturating, ${grouped(window)} messages in flight at most`,
  );
  const measured = await saturate(
    session,
    session.feed,
    new TargetCycle(population),
    window,
    options.quick ? { warmupMs: 2000, measureMs: 6000 } : { warmupMs: 5000, measureMs: 20_000 },
  );
  await session.probe();
  const gatewayCpuMs = measured.processes.slice(0, gateways).reduce((sum, process) => sum + process.cpuMs, 0);
  const run: ScaleRun = {
    gateways,
    connect,
    seconds: measured.seconds,
    deliveriesPerSecond: measured.received / measured.seconds,
    natsMessagesPerSecond: measured.accepted / measured.seconds,
    gatewayCpuMicrosecondsPerDelivery: (gatewayCpuMs * 1000) / Math.max(measured.received, 1),
    processes: measured.processes,
  };
  session.log(
    `${gateways} gateway${gateways > 1 ? 's' : ''}: ${grouped(run.deliveriesPerSecond)} deliveries/s; CPU ` +
      run.processes.map((process) => `${process.role} ${process.percentOfCore.toFixed(0)} %`).join(', '),
  );
  return run;
}

/**
 * One gateway, then two on the same namespace, under the same load: the same clients (the load
 * processes take the gateways in turn, so each of two holds half), the same fan-out feed, each
 * saturated by the closed loop of `fanout`. Herald only: the baselines have no cluster mode here.
 */
export const scale: Scenario<ScaleResult> = {
  name: 'scale',
  servers: () => ['herald'],
  async run(open, context) {
    if (context.options.loadProcesses % 2 !== 0) {
      throw new Error('scale needs an even --load-processes, so that two gateways get the same share');
    }
    const one = await saturateWith(open, context, 1);
    const two = await saturateWith(open, context, 2);
    return { one, two, ratio: two.deliveriesPerSecond / one.deliveriesPerSecond };
  },
};
