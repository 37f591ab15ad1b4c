import { CpuMeter } from '../report/process-usage';
import { grouped, sleep } from '../progress';
import { type BenchContext, type ConnectFigures, type ServerSession } from '../session';
import { type Scenario } from './scenario';

export interface MemoryFigures {
  residentBytes: number;
  heapUsedBytes: number;
}

export interface IdleResult {
  connect: ConnectFigures;
  /** With only the real clients connected, and with every load connection open and settled. */
  before: MemoryFigures;
  after: MemoryFigures;
  residentKilobytesPerConnection: number;
  heapKilobytesPerConnection: number;
  idleSeconds: number;
  idleCpuMs: number;
  /** Share of one core the server spent on keep-alive while nothing was sent. */
  idleCpuPercent: number;
  cpuMicrosecondsPerConnectionSecond: number;
}

const CONNECT_CONCURRENCY = 64;

/** `short`: the phases of the `standalone` scenario, which must fit beside the others in `all`. */
export function idleDurations(quick: boolean, short = false): { settleMs: number; idleMs: number } {
  if (quick) return { settleMs: 2000, idleMs: 5000 };
  return { settleMs: 5000, idleMs: short ? 20_000 : 30_000 };
}

/** The idle scenario on a fresh session (nothing connected but the real clients). */
export async function runIdle(
  session: ServerSession,
  time: { settleMs: number; idleMs: number },
): Promise<IdleResult> {
  const { settleMs, idleMs } = time;
  const { server } = session;
  const memory = async (): Promise<MemoryFigures> => ({
    residentBytes: await server.residentBytes(),
    heapUsedBytes: await server.heapUsedBytes(),
  });
  await sleep(settleMs);
  const before = await memory();
  const connect = await session.connectLoad(CONNECT_CONCURRENCY);
  if (connect.connected < connect.attempted) throw new Error(`${server.name}: not every client connected`);
  session.log(`settling ${settleMs / 1000} s`);
  await sleep(settleMs);
  const after = await memory();
  session.log(`idle for ${idleMs / 1000} s`);
  const cpu = await CpuMeter.start(server.pid);
  await sleep(idleMs);
  const used = await cpu.read();
  const connections = connect.connected;
  const result: IdleResult = {
    connect,
    before,
    after,
    residentKilobytesPerConnection: (after.residentBytes - before.residentBytes) / 1024 / connections,
    heapKilobytesPerConnection: (after.heapUsedBytes - before.heapUsedBytes) / 1024 / connections,
    idleSeconds: used.wallMs / 1000,
    idleCpuMs: used.cpuMs,
    idleCpuPercent: (used.cpuMs / used.wallMs) * 100,
    cpuMicrosecondsPerConnectionSecond: (used.cpuMs * 1000) / connections / (used.wallMs / 1000),
  };
  session.log(
    `${grouped(connections)} idle connections: RSS +${result.residentKilobytesPerConnection.toFixed(1)} KB and heap ` +
      `+${result.heapKilobytesPerConnection.toFixed(1)} KB each; ${result.idleCpuMs.toFixed(0)} ms CPU in ` +
      `${result.idleSeconds.toFixed(0)} s idle`,
  );
  await session.probe();
  return result;
}

export const idle: Scenario<IdleResult> = {
  name: 'idle',
  servers: (requested) => requested,
  async run(open, context: BenchContext) {
    return runIdle(await open(), idleDurations(context.options.quick));
  },
};
