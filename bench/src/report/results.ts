import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

import { WORKSPACE_ROOT } from '@herald/testing';

import { type ScenarioName } from '../scenarios/scenario';
import { type ServerName } from '../servers/servers';
import { barChart } from './chart';
import { markdownTable, type Table } from './tables';
import { targetsTable } from './targets';

export interface Machine {
  cores: number;
  cpu: string;
  memoryGigabytes: number;
  node: string;
  kernel: string;
}

/** One scenario of one run: what `bench/results/<scenario>-<time>.json` holds. */
export interface RunRecord {
  scenario: ScenarioName;
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: Machine;
  clients: number;
  quick: boolean;
  loadProcesses: number;
  realClients: number;
  /** How deliveries reached the servers. */
  feed: string;
  population: { users: number; organizations: number; organizationMembers: number };
  servers: Partial<Record<ServerName, unknown>>;
  /** Servers whose run failed, with why. */
  failures: Partial<Record<ServerName, string>>;
}

export const FEED_DESCRIPTION =
  'JetStream publish through NatsDeliveryPublisher (as the dispatcher publishes), up to 512 acknowledgements pending';

export function machine(): Machine {
  const processors = cpus();
  return {
    cores: processors.length,
    cpu: processors[0]?.model.trim() ?? 'unknown',
    memoryGigabytes: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
  };
}

const RESULTS = join(WORKSPACE_ROOT, 'bench', 'results');
const DOCS = join(WORKSPACE_ROOT, 'docs', 'benchmarks.md');
const CHARTS = join(WORKSPACE_ROOT, 'docs', 'benchmarks');

/**
 * Writes the run's JSON under bench/results/ (timestamped, not committed) and, for a full run,
 * `<scenario>-latest.json` (committed: the figures docs/benchmarks.md shows).
 */
export async function writeRecord(record: RunRecord, latest: boolean): Promise<string> {
  await mkdir(RESULTS, { recursive: true });
  const stamp = record.startedAt.replace(/[:.]/g, '-');
  const file = join(RESULTS, `${record.scenario}-${stamp}.json`);
  const text = await prettierFormatted(`${JSON.stringify(record, null, 2)}\n`, file);
  await writeFile(file, text);
  if (latest) await writeFile(join(RESULTS, `${record.scenario}-latest.json`), text);
  return file;
}

function describe(record: RunRecord): string {
  const { machine: host } = record;
  const date = record.startedAt.slice(0, 16).replace('T', ' ');
  return (
    `Measured ${date} UTC with \`${record.command}\` on ${host.cores} cores (${host.cpu}), ` +
    `${host.memoryGigabytes} GB, Node ${host.node}, Linux ${host.kernel}: ` +
    `${record.clients.toLocaleString('en-US')} load connections in ${record.loadProcesses} processes ` +
    `(${record.population.users.toLocaleString('en-US')} users, ${record.population.organizations} organizations ` +
    `of about ${record.population.organizationMembers} connections, one organization of everyone) ` +
    `and ${record.realClients} real clients; deliveries fed by ${record.feed}.`
  );
}

/**
 * Replaces the scenario's generated section of docs/benchmarks.md (between `<!-- bench:<name> -->`
 * and `<!-- /bench:<name> -->`) with the table, writes its chart beside it, and recomputes the
 * targets section from every scenario's latest figures; the file is then
 * formatted with the repository's Prettier settings so that `npm run format:check` stays green.
 */
export async function updateDocs(record: RunRecord, table: Table): Promise<void> {
  const columns = table.columns;
  await mkdir(CHARTS, { recursive: true });
  await writeFile(
    join(CHARTS, `${record.scenario}.svg`),
    barChart(`Herald benchmark: ${record.scenario}`, table.rows, columns),
  );
  const section = [
    `<!-- bench:${record.scenario} -->`,
    '',
    describe(record),
    '',
    markdownTable(table),
    '',
    `![${record.scenario}: ${columns.map((column) => column.replace(/`/g, '')).join(', ')}](benchmarks/${record.scenario}.svg)`,
    '',
    `<!-- /bench:${record.scenario} -->`,
  ].join('\n');
  let text = await readFile(DOCS, 'utf8').catch(() => '# Benchmarks\n');
  text = withSection(text, record.scenario, section);
  text = withSection(
    text,
    'targets',
    ['<!-- bench:targets -->', '', await targetsTable(), '', '<!-- /bench:targets -->'].join('\n'),
  );
  await writeFile(DOCS, await prettierFormatted(text, DOCS));
}

/** The text with the section between `<!-- bench:<name> -->` and its end marker replaced (or appended). */
function withSection(text: string, name: string, section: string): string {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  return from >= 0 && to > from
    ? `${text.slice(0, from)}${section}${text.slice(to + end.length)}`
    : `${text.trimEnd()}\n\n${section}\n`;
}

/** Generated files are committed: formatted as `npm run format` would, so that format:check passes. */
async function prettierFormatted(text: string, file: string): Promise<string> {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...options, filepath: file });
}
