/**
 * The benchmark harness (issue 14): Herald's built gateway against a minimal `ws` server and a
 * Socket.IO server, same machine, clients and NATS deliveries; Herald's dispatcher, two gateways
 * and the single process on their own. `npm run bench -- <scenario|all> [--clients N] [--quick]
 * [--servers herald,ws-floor,socketio,standalone] [--load-processes N] [--dispatcher-concurrency N]`;
 * see docs/benchmarks.md. Progress goes to stderr, the tables to stdout.
 */
import { connect } from 'nats';
import { createClient } from 'redis';

import { deleteNamespace, TEST_NATS_URL, TestIssuer } from '@herald/testing';

import { buildPopulation } from './population';
import { grouped, progress } from './progress';
import { FEED_DESCRIPTION, machine, type RunRecord, updateDocs, writeRecord } from './report/results';
import { markdownTable, tableOf } from './report/tables';
import { fanout } from './scenarios/fanout';
import { idle } from './scenarios/idle';
import { pipeline } from './scenarios/pipeline';
import { scale } from './scenarios/scale';
import { type Scenario, SCENARIO_NAMES, type ScenarioName } from './scenarios/scenario';
import { standalone } from './scenarios/standalone';
import { storm } from './scenarios/storm';
import {
  DEFAULT_DISPATCHER_CONCURRENCY,
  DEFAULT_SERVERS,
  SERVER_NAMES,
  type ServerName,
} from './servers/servers';
import { type BenchContext, type BenchOptions, type OpenSession, ServerSession } from './session';
import { Teardown } from './teardown';

const SCENARIOS: Record<ScenarioName, Scenario<unknown>> = {
  fanout,
  idle,
  storm,
  pipeline,
  scale,
  standalone,
};
/** A process may hold at most 20,000 open files: the server's share, with room for its own. */
const MAX_CLIENTS = 19_000;
const USAGE =
  `usage: npm run bench -- <${SCENARIO_NAMES.join('|')}|all> [--clients N] [--quick] ` +
  '[--servers herald,ws-floor,socketio,standalone] [--load-processes N] [--dispatcher-concurrency N]';

class UsageError extends Error {}

function parseArguments(argv: string[]): { scenarios: ScenarioName[]; options: BenchOptions } {
  let scenario: string | undefined;
  let clients: number | undefined;
  let quick = false;
  let servers: ServerName[] = [...DEFAULT_SERVERS];
  let loadProcesses = 4;
  let dispatcherConcurrency = DEFAULT_DISPATCHER_CONCURRENCY;
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index]!;
    const value = () => {
      const next = argv[++index];
      if (next === undefined) throw new UsageError(`${argument} needs a value`);
      return next;
    };
    if (argument === '--clients') clients = Number(value());
    else if (argument === '--quick') quick = true;
    else if (argument === '--load-processes') loadProcesses = Number(value());
    else if (argument === '--dispatcher-concurrency') dispatcherConcurrency = Number(value());
    else if (argument === '--servers') {
      servers = value().split(',') as ServerName[];
      const unknown = servers.filter((server) => !SERVER_NAMES.includes(server));
      if (unknown.length > 0 || servers.length === 0)
        throw new UsageError(`unknown server: ${unknown.join(', ')}`);
      // Herald runs first: the others' latency is also measured at half of its saturation.
      servers = SERVER_NAMES.filter((server) => servers.includes(server));
    } else if (!argument.startsWith('--') && scenario === undefined) scenario = argument;
    else throw new UsageError(`unknown argument ${argument}`);
  }
  if (scenario !== 'all' && !SCENARIO_NAMES.includes(scenario as ScenarioName)) {
    throw new UsageError(scenario === undefined ? 'which scenario?' : `unknown scenario ${scenario}`);
  }
  const count = clients ?? (quick ? 1000 : 10_000);
  if (!Number.isInteger(count) || count < 10 || count > MAX_CLIENTS) {
    throw new UsageError(`--clients must be a whole number from 10 to ${MAX_CLIENTS}`);
  }
  if (!Number.isInteger(loadProcesses) || loadProcesses < 1 || count / loadProcesses > MAX_CLIENTS) {
    throw new UsageError(`--load-processes must be at least 1 and ${count} / it at most ${MAX_CLIENTS}`);
  }
  if (!Number.isInteger(dispatcherConcurrency) || dispatcherConcurrency < 1 || dispatcherConcurrency > 1024) {
    throw new UsageError('--dispatcher-concurrency must be a whole number from 1 to 1024');
  }
  return {
    scenarios: scenario === 'all' ? [...SCENARIO_NAMES] : [scenario as ScenarioName],
    options: {
      clients: count,
      quick,
      servers,
      loadProcesses,
      dispatcherConcurrency,
      commandLine: ['npm run bench --', ...argv].join(' '),
    },
  };
}

/** Fails at once, with what to do, when NATS or (for Socket.IO) Redis is not there. */
async function checkServices(servers: ServerName[]): Promise<void> {
  try {
    const nats = await connect({ servers: TEST_NATS_URL, timeout: 3000 });
    await (await nats.jetstreamManager()).getAccountInfo();
    await nats.close();
  } catch (error) {
    throw new Error(
      `NATS with JetStream is needed at ${TEST_NATS_URL} (HERALD_TEST_NATS_URL): ${String(error)}`,
    );
  }
  if (!servers.includes('socketio')) return;
  const redis = createClient({
    url: 'redis://127.0.0.1:6379',
    socket: { connectTimeout: 3000, reconnectStrategy: false },
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.quit();
  } catch (error) {
    throw new Error(`the socketio baseline needs Redis at 127.0.0.1:6379: ${String(error)}`);
  }
}

async function runScenario(scenario: Scenario<unknown>, context: BenchContext): Promise<boolean> {
  const { options, population } = context;
  const startedAt = new Date().toISOString();
  const results: Partial<Record<ServerName, unknown>> = {};
  const failures: Partial<Record<ServerName, string>> = {};
  const servers = scenario.servers(options.servers);
  for (const server of servers) {
    let session: ServerSession | undefined;
    // One session at a time: a scenario that opens another (scale, standalone) gets the last stopped.
    const open: OpenSession = async (setup) => {
      await session?.stop();
      session = undefined;
      session = await ServerSession.open(scenario.name, server, context, setup);
      return session;
    };
    try {
      results[server] = await scenario.run(open, context, results);
    } catch (error) {
      failures[server] = error instanceof Error ? error.message : String(error);
      progress(scenario.name, server, `FAILED: ${failures[server]}`);
    } finally {
      await session?.stop();
    }
  }
  const record: RunRecord = {
    scenario: scenario.name,
    startedAt,
    finishedAt: new Date().toISOString(),
    command: options.commandLine,
    machine: machine(),
    clients: options.clients,
    quick: options.quick,
    loadProcesses: options.loadProcesses,
    realClients: population.real.length,
    feed: scenario.feed?.(options) ?? FEED_DESCRIPTION,
    population: {
      users: population.users.length,
      organizations: population.organizations.length,
      organizationMembers: Math.round(population.everyone.members / population.organizations.length),
    },
    servers: results,
    failures,
  };
  const succeeded = Object.keys(failures).length === 0;
  // Only a full run that passed every check speaks for the project.
  const official = succeeded && !options.quick;
  const file = await writeRecord(record, official);
  const table = tableOf(scenario.name, results, options.clients, servers);
  process.stdout.write(`\n## ${scenario.name}\n\n${markdownTable(table)}\n\nresults: ${file}\n`);
  if (!succeeded) process.stdout.write(`FAILED: ${JSON.stringify(failures, null, 2)}\n`);
  if (official) await updateDocs(record, table);
  return succeeded;
}

async function main(): Promise<void> {
  const { scenarios, options } = parseArguments(process.argv.slice(2));
  const teardown = new Teardown();
  const namespaces: string[] = [];
  teardown.add(async () => {
    for (const namespace of namespaces) await deleteNamespace(namespace);
  });
  let interrupted = false;
  const interrupt = (signal: string) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress('bench', '-', `${signal}: stopping every process and deleting the namespaces`);
    void teardown.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', () => interrupt('SIGINT'));
  process.on('SIGTERM', () => interrupt('SIGTERM'));

  const startedAt = performance.now();
  let succeeded = true;
  try {
    await checkServices(options.servers);
    const issuer = await TestIssuer.create({ algorithm: 'ES256' });
    const population = await buildPopulation(issuer, options.clients);
    progress(
      'bench',
      '-',
      `${grouped(population.clients.length)} connections of ${grouped(population.users.length)} users in ` +
        `${population.organizations.length} organizations; servers ` +
        [...new Set(scenarios.flatMap((name) => SCENARIOS[name].servers(options.servers)))].join(', ') +
        (options.quick ? '; quick' : ''),
    );
    const context: BenchContext = { options, issuer, population, teardown, namespaces };
    for (const name of scenarios) {
      if (!(await runScenario(SCENARIOS[name], context))) succeeded = false;
    }
  } finally {
    await teardown.run();
  }
  progress('bench', '-', `done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
  // Explicitly: a client library that keeps a handle open must not keep the harness alive.
  process.exit(succeeded ? 0 : 1);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `[bench] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
