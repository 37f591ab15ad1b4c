import { commonLatency, type FanoutResult, type LatencyFigures } from '../scenarios/fanout';
import { type IdleResult } from '../scenarios/idle';
import { type ScenarioName } from '../scenarios/scenario';
import { type StormResult } from '../scenarios/storm';
import { type ServerName } from '../servers/servers';

/** One figure for every server, and which way is better. */
export interface Row {
  label: string;
  better: 'higher' | 'lower';
  digits: number;
  values: Partial<Record<ServerName, number>>;
  /** Drawn in the chart as well as tabled. */
  charted?: boolean;
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
  const values: Partial<Record<ServerName, number>> = {};
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

export function rowsOf(scenario: ScenarioName, results: Results<unknown>, clients: number): Row[] {
  switch (scenario) {
    case 'fanout':
      return fanoutRows(results as Results<FanoutResult>, clients);
    case 'idle':
      return idleRows(results as Results<IdleResult>, clients);
    case 'storm':
      return stormRows(results as Results<StormResult>);
  }
}

function formatted(value: number | undefined, digits: number): string {
  if (value === undefined) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `herald / other`, or a dash when either is missing or the other is zero. */
function ratio(herald: number | undefined, other: number | undefined): string {
  if (herald === undefined || other === undefined || other === 0) return '—';
  return `${(herald / other).toFixed(2)}×`;
}

/** A Markdown table: a row per figure, a column per server, then Herald's ratio to each baseline. */
export function markdownTable(rows: Row[], servers: ServerName[]): string {
  const baselines = servers.filter((server) => server !== 'herald');
  const ratios = servers.includes('herald') ? baselines.map((server) => `herald / ${server}`) : [];
  const header = ['', ...servers.map((server) => `\`${server}\``), ...ratios];
  const lines = [header, header.map((_, index) => (index === 0 ? '---' : '---:'))];
  for (const { label, digits, values } of rows) {
    lines.push([
      label,
      ...servers.map((server) => formatted(values[server], digits)),
      ...(ratios.length > 0 ? baselines.map((server) => ratio(values.herald, values[server])) : []),
    ]);
  }
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
