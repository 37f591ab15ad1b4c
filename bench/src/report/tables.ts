import { commonLatency, type FanoutResult, type LatencyFigures } from '../scenarios/fanout';
import { type IdleResult } from '../scenarios/idle';
import { type PipelinePath, type PipelineResult } from '../scenarios/pipeline';
import { type ScaleResult, type ScaleRun } from '../scenarios/scale';
import { type ScenarioName } from '../scenarios/scenario';
import { type StandaloneResult } from '../scenarios/standalone';
import { type StormResult } from '../scenarios/storm';
import { type ServerName } from '../servers/servers';

/** One figure for every column (a server, or one configuration of Herald), and which way is better. */
export interface Row {
  label: string;
  better: 'higher' | 'lower';
  digits: number;
  values: Record<string, number>;
  /** Drawn in the chart as well as tabled. */
  charted?: boolean;
}

/**
 * A scenario's table: its rows, its columns (the servers measured, or for Herald-only scenarios
 * the configurations compared), and the column whose ratio to each other one is shown.
 */
export interface Table {
  rows: Row[];
  columns: string[];
  reference?: string;
}

type Results<R> = Partial<Record<ServerName, R>>;

function row<R>(
  results: Results<R>,
  label: string,
  better: Row['better'],
  digits: number,
  read: (result: R, server: ServerName) => number | undefined,
  charted = false,
): Row {
  const values: Record<string, number> = {};
  for (const [server, result] of Object.entries(results) as [ServerName, R][]) {
    const value = read(result, server);
    if (value !== undefined && Number.isFinite(value)) values[server] = value;
  }
  return { label, better, digits, values, charted };
}

function fanoutRows(results: Results<FanoutResult>, clients: number): Row[] {
  const withHerald = results.herald !== undefined;
  const common = commonLatency(results.herald, 'herald', withHerald)?.offeredPerSecond;
  const at =
    common === undefined
      ? 'half of own saturation'
      : `${Math.round(common).toLocaleString('en-US')}/s offered`;
  const latency = (read: (figures: LatencyFigures) => number) => (r: FanoutResult, s: ServerName) => {
    const figures = commonLatency(r, s, withHerald);
    return figures && read(figures);
  };
  return [
    row(results, 'deliveries/s at saturation', 'higher', 0, (r) => r.saturation.deliveriesPerSecond, true),
    row(results, 'server CPU µs per delivery', 'lower', 1, (r) => r.saturation.cpuMicrosecondsPerDelivery),
    row(
      results,
      'deliveries per server CPU-second',
      'higher',
      0,
      (r) => r.saturation.deliveriesPerCoreSecond,
      true,
    ),
    row(
      results,
      'server write system calls per delivery',
      'lower',
      2,
      (r) => r.saturation.writeCallsPerDelivery,
    ),
    row(
      results,
      `p50 latency ms (${at})`,
      'lower',
      1,
      latency((figures) => figures.p50),
    ),
    row(
      results,
      `p99 latency ms (${at})`,
      'lower',
      1,
      latency((figures) => figures.p99),
      true,
    ),
    row(
      results,
      `p999 latency ms (${at})`,
      'lower',
      1,
      latency((figures) => figures.p999),
    ),
    ...(withHerald
      ? [
          row(
            results,
            'p99 latency ms (half of own saturation)',
            'lower',
            1,
            (r) => r.latency.find((l) => l.load === 'own')?.p99,
          ),
        ]
      : []),
    row(
      results,
      `connect ${clients.toLocaleString('en-US')} clients, s`,
      'lower',
      1,
      (r) => r.connect.seconds,
    ),
  ];
}

function idleRows(results: Results<IdleResult>, clients: number): Row[] {
  return [
    row(results, 'RSS per connection, KB', 'lower', 1, (r) => r.residentKilobytesPerConnection, true),
    row(results, 'heap per connection, KB', 'lower', 1, (r) => r.heapKilobytesPerConnection),
    row(
      results,
      `RSS with ${clients.toLocaleString('en-US')} connections, MB`,
      'lower',
      0,
      (r) => r.after.residentBytes / 2 ** 20,
    ),
    row(results, 'idle CPU, % of a core', 'lower', 2, (r) => r.idleCpuPercent, true),
  ];
}

function stormRows(results: Results<StormResult>): Row[] {
  return [
    row(results, 'first connect: handshakes/s', 'higher', 0, (r) => r.first.handshakesPerSecond),
    row(results, 'first connect: s until all connected', 'lower', 1, (r) => r.first.seconds),
    row(results, 'first connect: refused', 'lower', 0, (r) => r.first.refused),
    row(results, 'reconnect: handshakes/s', 'higher', 0, (r) => r.reconnect.handshakesPerSecond, true),
    row(results, 'reconnect: s until all connected', 'lower', 1, (r) => r.reconnect.seconds, true),
    row(results, 'reconnect: refused', 'lower', 0, (r) => r.reconnect.refused),
    row(results, 'drop until released, s', 'lower', 1, (r) => r.releasedSeconds),
  ];
}

/** One row over named columns, each value read from its own source. */
function columnsRow<R>(
  sources: Record<string, R | undefined>,
  label: string,
  better: Row['better'],
  digits: number,
  read: (source: R) => number | undefined,
  charted = false,
): Row {
  const values: Record<string, number> = {};
  for (const [column, source] of Object.entries(sources)) {
    const value = source === undefined ? undefined : read(source);
    if (value !== undefined && Number.isFinite(value)) values[column] = value;
  }
  return { label, better, digits, values, charted };
}

const NATS_PATH = 'NATS publishers';
const SEND_PATH = '`/send`';

function pipelineTable(result: PipelineResult | undefined): Table {
  const paths: Record<string, PipelinePath | undefined> = {
    [NATS_PATH]: result?.nats,
    [SEND_PATH]: result?.send,
  };
  const at = (path: PipelinePath) => path.latency;
  const share = (role: string) => (path: PipelinePath) =>
    path.processes.find((process) => process.role === role)?.percentOfCore;
  return {
    columns: [NATS_PATH, SEND_PATH],
    rows: [
      columnsRow(paths, 'events/s accepted at saturation', 'higher', 0, (p) => p.eventsAcceptedPerSecond),
      columnsRow(
        paths,
        'events/s delivered to clients at saturation',
        'higher',
        0,
        (p) => p.eventsDeliveredPerSecond,
        true,
      ),
      columnsRow(
        paths,
        'messages/s received by clients at saturation',
        'higher',
        0,
        (p) => p.deliveriesPerSecond,
      ),
      columnsRow(
        paths,
        'dispatcher CPU µs per event',
        'lower',
        1,
        (p) => p.dispatcherCpuMicrosecondsPerEvent,
      ),
      columnsRow(
        paths,
        `dispatcher ms per event, ${result?.dispatcherConcurrency ?? '…'} in flight (CPU and waiting; with a backlog)`,
        'lower',
        1,
        (p) => p.dispatcherMillisecondsPerEventInFlight,
      ),
      columnsRow(
        paths,
        'dispatcher backlog as the window closed, events',
        'lower',
        0,
        (p) => p.dispatcherBacklog,
      ),
      columnsRow(
        paths,
        'dispatcher write system calls per event',
        'lower',
        2,
        (p) => p.dispatcherWriteCallsPerEvent,
      ),
      columnsRow(paths, 'gateway CPU µs per event', 'lower', 1, (p) => p.gatewayCpuMicrosecondsPerEvent),
      columnsRow(paths, 'dispatcher CPU, % of a core', 'lower', 0, share('dispatcher')),
      columnsRow(paths, 'gateway CPU, % of a core', 'lower', 0, share('herald')),
      columnsRow(paths, 'NATS server CPU, % of a core', 'lower', 0, share('NATS server')),
      columnsRow(paths, 'harness (publishers) CPU, % of a core', 'lower', 0, share('harness (feeder)')),
      columnsRow(paths, 'load processes CPU, % of a core', 'lower', 0, share('load processes')),
      columnsRow(
        paths,
        'events/s offered for latency (half of saturation)',
        'higher',
        0,
        (p) => p.eventsOfferedPerSecond,
      ),
      columnsRow(paths, 'p50 latency ms', 'lower', 1, (p) => at(p).p50),
      columnsRow(paths, 'p99 latency ms', 'lower', 1, (p) => at(p).p99, true),
      columnsRow(paths, 'p999 latency ms', 'lower', 1, (p) => at(p).p999),
    ],
  };
}

const ONE_GATEWAY = '1 gateway';
const TWO_GATEWAYS = '2 gateways';

function scaleTable(result: ScaleResult | undefined, clients: number): Table {
  const runs: Record<string, ScaleRun | undefined> = {
    [ONE_GATEWAY]: result?.one,
    [TWO_GATEWAYS]: result?.two,
  };
  const share =
    (pick: (process: { role: string }, index: number, run: ScaleRun) => boolean) => (run: ScaleRun) => {
      const picked = run.processes.filter((process, index) => pick(process, index, run));
      return picked.length === 0
        ? undefined
        : picked.reduce((sum, process) => sum + process.percentOfCore, 0);
    };
  return {
    columns: [ONE_GATEWAY, TWO_GATEWAYS],
    reference: TWO_GATEWAYS,
    rows: [
      columnsRow(runs, 'deliveries/s at saturation', 'higher', 0, (r) => r.deliveriesPerSecond, true),
      columnsRow(
        runs,
        'gateway CPU µs per delivery (all gateways)',
        'lower',
        1,
        (r) => r.gatewayCpuMicrosecondsPerDelivery,
        true,
      ),
      columnsRow(
        runs,
        'gateways CPU, % of a core',
        'higher',
        0,
        share((_, index, run) => index < run.gateways),
      ),
      columnsRow(
        runs,
        'load processes CPU, % of a core',
        'lower',
        0,
        share((process) => process.role === 'load processes'),
      ),
      columnsRow(
        runs,
        'NATS server CPU, % of a core',
        'lower',
        0,
        share((process) => process.role === 'NATS server'),
      ),
      columnsRow(
        runs,
        'harness (feeder) CPU, % of a core',
        'lower',
        0,
        share((process) => process.role === 'harness (feeder)'),
      ),
      columnsRow(
        runs,
        'all measured processes, % of a core',
        'lower',
        0,
        share(() => true),
      ),
      columnsRow(
        runs,
        `connect ${clients.toLocaleString('en-US')} clients, s`,
        'lower',
        1,
        (r) => r.connect.seconds,
      ),
    ],
  };
}

function standaloneTable(result: StandaloneResult | undefined, clients: number): Table {
  const fanout = fanoutRows({ standalone: result?.fanout }, clients);
  const idle = idleRows({ standalone: result?.idle }, clients);
  return { columns: ['standalone'], rows: [...fanout, ...idle] };
}

/** The table of a scenario's results; `servers` are those it ran on, in order. */
export function tableOf(
  scenario: ScenarioName,
  results: Results<unknown>,
  clients: number,
  servers: ServerName[],
): Table {
  const measured = servers.filter((server) => results[server] !== undefined);
  const byServer = (rows: Row[]): Table => ({
    rows,
    columns: measured,
    reference: measured.includes('herald') && measured.length > 1 ? 'herald' : undefined,
  });
  switch (scenario) {
    case 'fanout':
      return byServer(fanoutRows(results as Results<FanoutResult>, clients));
    case 'idle':
      return byServer(idleRows(results as Results<IdleResult>, clients));
    case 'storm':
      return byServer(stormRows(results as Results<StormResult>));
    case 'pipeline':
      return pipelineTable((results as Results<PipelineResult>).herald);
    case 'scale':
      return scaleTable((results as Results<ScaleResult>).herald, clients);
    case 'standalone':
      return standaloneTable((results as Results<StandaloneResult>).standalone, clients);
  }
}

function formatted(value: number | undefined, digits: number): string {
  if (value === undefined) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `reference / other`, or a dash when either is missing or the other is zero. */
function ratio(reference: number | undefined, other: number | undefined): string {
  if (reference === undefined || other === undefined || other === 0) return '—';
  return `${(reference / other).toFixed(2)}×`;
}

/** A Markdown table: a row per figure, a column per server (or configuration), then the reference's ratio to each other column. */
export function markdownTable({ rows, columns, reference }: Table): string {
  const others = reference === undefined ? [] : columns.filter((column) => column !== reference);
  const ratios = others.map((column) => `${reference} / ${column}`);
  const quoted = (column: string) =>
    column.includes('`') || column.includes(' ') ? column : `\`${column}\``;
  const header = ['', ...columns.map(quoted), ...ratios];
  const lines = [header, header.map((_, index) => (index === 0 ? '---' : '---:'))];
  for (const { label, digits, values } of rows) {
    lines.push([
      label,
      ...columns.map((column) => formatted(values[column], digits)),
      ...others.map((column) => ratio(values[reference!], values[column])),
    ]);
  }
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
