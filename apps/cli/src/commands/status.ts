import { type ClusterInfo } from '@herald/heartbeat';

import { type Command, CommandError, parse, request, table, UsageError } from '../cli';

const USAGE = `herald status [--url URL] [--json]

The cluster as the heartbeat service sees it: every gateway with its connections, users and
deliveries per second, the totals, push outcomes per provider, event source bridges (the
Vaultwarden bridge) and dead letters.

Options:
  --url URL   where the cluster view is: the single process's dashboard
              (default http://localhost:8080/dashboard) or a heartbeat service (http://host:8083)
  --json      print the answer as JSON`;

export function renderStatus(info: ClusterInfo, now = Date.now()): string {
  const lines: string[] = [];
  const { totals } = info;
  lines.push(
    `${plural(totals.gateways, 'gateway')}, ${plural(totals.connections, 'connection')} ` +
      `(${totals.hubConnections} hub, ${totals.anonymousConnections} anonymous), ${totals.users} users, ` +
      `${round(totals.deliveriesPerSecond)} deliveries/s`,
    '',
  );
  if (info.gateways.length > 0) {
    lines.push(
      table(
        [
          'gateway',
          'host',
          'version',
          'hub',
          'anonymous',
          'users',
          'deliveries/s',
          'slow closed',
          'last beat',
        ],
        info.gateways.map((gateway) => [
          gateway.id,
          gateway.host,
          gateway.version,
          String(gateway.connections['hub'] ?? 0),
          String(gateway.connections['anonymous-hub'] ?? 0),
          String(gateway.users),
          String(round(gateway.deliveriesPerSecond)),
          String(gateway.slowClosed),
          `${Math.max(0, Math.round((now - Date.parse(gateway.lastBeatAt)) / 1000))} s ago`,
        ]),
      ),
      '',
    );
  } else {
    lines.push('no gateway is beating (none running, or none reaches this heartbeat service)', '');
  }
  const providers = Object.entries(info.push);
  if (providers.length > 0) {
    const outcomes = [...new Set(providers.flatMap(([, counts]) => Object.keys(counts)))].sort();
    lines.push(
      table(
        ['push provider', ...outcomes],
        providers.map(([provider, counts]) => [
          provider,
          ...outcomes.map((outcome) => String(counts[outcome] ?? 0)),
        ]),
      ),
      '',
    );
  } else {
    lines.push('push: nothing sent yet', '');
  }
  // A heartbeat service older than the bridges' beats sends no `bridges`.
  const bridges = info.bridges ?? [];
  if (bridges.length > 0) {
    lines.push(
      table(
        ['bridge', 'source', 'role', 'pending', 'lag s', 'published', 'last beat'],
        bridges.map((bridge) => [
          bridge.id,
          bridge.source,
          bridge.leader ? 'working' : 'standby',
          String(bridge.pending),
          String(round(bridge.lagSeconds)),
          String(bridge.published),
          `${Math.max(0, Math.round((now - Date.parse(bridge.lastBeatAt)) / 1000))} s ago`,
        ]),
      ),
      '',
    );
  }
  const dead = Object.entries(info.deadLetters).filter(([, count]) => count > 0);
  lines.push(
    dead.length > 0
      ? `dead letters: ${dead.map(([source, count]) => `${source} ${count}`).join(', ')}`
      : 'dead letters: none',
  );
  return lines.join('\n');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'the cluster as a table: gateways, connections, deliveries/s, push, dead letters',
  usage: USAGE,
  async run(args, output) {
    const { values, positionals } = parse(
      args,
      { url: { type: 'string' }, json: { type: 'boolean' } },
      USAGE,
    );
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, USAGE);
    const base = (values.url ?? 'http://localhost:8080/dashboard').replace(/\/+$/, '');
    const response = await request(
      `${base}/info`,
      { headers: { Accept: 'application/json' } },
      'the cluster view',
    );
    if (!response.ok) {
      throw new CommandError(
        `${base}/info answered ${response.status}: is --url the single process's /dashboard or a heartbeat service?`,
      );
    }
    let info: ClusterInfo;
    try {
      info = (await response.json()) as ClusterInfo;
    } catch {
      throw new CommandError(`${base}/info did not answer JSON: is --url a heartbeat service?`);
    }
    if (typeof info !== 'object' || info === null || !Array.isArray(info.gateways) || !info.totals) {
      throw new CommandError(`${base}/info is not Herald's cluster view`);
    }
    output.out(values.json ? JSON.stringify(info, null, 2) : renderStatus(info));
    return 0;
  },
};
