import { type ServiceProcess, testNamespace, type TestIssuer } from '@herald/testing';

import { DeliveryFeed } from './feed/delivery-feed';
import { type Feed } from './feed/feed';
import { SendFeed } from './feed/send-feed';
import { LoadPool } from './load/load-pool';
import { RealClients, type ReceivedVia } from './load/real-clients';
import { type Group, type Population } from './population';
import { grouped, progress, sleep } from './progress';
import { natsServerPids, type ProcessGroup } from './report/process-usage';
import { type ServerName, startDispatcher, startServer, type StartedServer } from './servers/servers';
import { type Teardown } from './teardown';

export interface BenchOptions {
  clients: number;
  quick: boolean;
  servers: ServerName[];
  loadProcesses: number;
  /** HERALD_DISPATCHER_CONCURRENCY of the dispatcher `pipeline` runs. */
  dispatcherConcurrency: number;
  /** As typed, for the record. */
  commandLine: string;
}

/** What every scenario gets: the options, one population and issuer for all servers, and the teardown. */
export interface BenchContext {
  options: BenchOptions;
  issuer: TestIssuer;
  population: Population;
  teardown: Teardown;
  /** Namespaces used so far; deleted at the end. */
  namespaces: string[];
}

/** What runs around the server under test, beyond the defaults (one server, fed deliveries on NATS). */
export interface SessionSetup {
  /** Herald gateways on one namespace sharing the load connections (`scale`); 1 unless told. */
  gateways?: number;
  /** Herald's dispatcher beside the gateway (`pipeline`). */
  dispatcher?: boolean;
}

/** Opens a session on the scenario's server; a scenario that opens another gets the first one stopped. */
export type OpenSession = (setup?: SessionSetup) => Promise<ServerSession>;

export interface ConnectFigures {
  attempted: number;
  connected: number;
  refused: number;
  refusedReasons: Record<string, number>;
  /** From the first attempt to the last handshake answered. */
  seconds: number;
  handshakesPerSecond: number;
}

/**
 * One server under test for one scenario, with everything around it: a fresh namespace, the
 * feeder on it, the real clients, and the load processes holding the population's connections.
 * The feed is deliveries on NATS (as the dispatcher publishes them), or for the single process,
 * which has no NATS, events posted to its `/send`.
 */
export class ServerSession {
  private closed = false;
  private readonly close: () => Promise<void>;

  private constructor(
    readonly scenario: string,
    /** The NATS namespace of this session (unused by the single process, which has no NATS). */
    readonly namespace: string,
    /** The server under test; with several gateways, each of them (`server` is the first). */
    readonly servers: StartedServer[],
    readonly dispatcher: ServiceProcess | undefined,
    readonly feed: Feed,
    readonly real: RealClients,
    readonly pool: LoadPool,
    readonly population: Population,
    teardown: Teardown,
    extraSteps: (() => Promise<void>)[],
  ) {
    this.close = teardown.add(async () => {
      this.closed = true;
      // Clients first, so that the server has nothing left to drain when it is stopped.
      await this.pool.stop();
      await this.real.stop();
      await this.feed.close();
      for (const step of extraSteps) await step();
    });
  }

  static async open(
    scenario: string,
    name: ServerName,
    context: BenchContext,
    setup: SessionSetup = {},
  ): Promise<ServerSession> {
    const { population, options, teardown } = context;
    const log = (message: string) => progress(scenario, name, message);
    const namespace = testNamespace('bench');
    context.namespaces.push(namespace);
    const gateways = setup.gateways ?? 1;
    if (gateways > 1 && name !== 'herald') throw new Error(`only Herald runs several gateways, not ${name}`);
    log(`starting${gateways > 1 ? ` ${gateways} gateways` : ''} (namespace ${namespace})`);
    const stops: (() => Promise<void>)[] = [];
    const servers: StartedServer[] = [];
    let dispatcher: ServiceProcess | undefined;
    let feed: Feed | undefined;
    let real: RealClients | undefined;
    try {
      for (let index = 0; index < gateways; index += 1) {
        const server = await startServer(name, {
          namespace,
          publicKeyPem: context.issuer.publicKeyPem,
          connections: population.clients.length + population.real.length,
        });
        servers.push(server);
        stops.push(teardown.add(() => server.stop()));
      }
      if (setup.dispatcher) {
        const started = await startDispatcher(namespace, options.dispatcherConcurrency);
        dispatcher = started;
        stops.push(
          teardown.add(async () => {
            await started.stop();
          }),
        );
      }
      const first = servers[0]!;
      feed =
        name === 'standalone'
          ? new SendFeed(new URL(first.sendUrl!), await context.issuer.internalToken())
          : await DeliveryFeed.connect(namespace);
      real = await RealClients.connect(first.wire, first.httpUrl, population.real, population.everyone.id);
      const urls = servers.map((server) => server.url);
      const pool = await LoadPool.start(options.loadProcesses, first.wire, urls, population.clients);
      log(
        `up (pid ${servers.map((server) => server.pid).join(', ')}` +
          `${dispatcher ? `, dispatcher ${dispatcher.pid}` : ''}); ` +
          `${options.loadProcesses} load processes, ${population.real.length} real clients`,
      );
      return new ServerSession(
        scenario,
        namespace,
        servers,
        dispatcher,
        feed,
        real,
        pool,
        population,
        teardown,
        stops.reverse(),
      );
    } catch (error) {
      await real?.stop();
      await feed?.close();
      for (const stop of stops.reverse()) await stop();
      throw error;
    }
  }

  /** The server under test (the first gateway when there are several). */
  get server(): StartedServer {
    return this.servers[0]!;
  }

  /**
   * Every process that works while the scenario runs, by role, to show where the machine's cores
   * went: the server first (each gateway, in order), the dispatcher, the load processes, the real clients, the
   * harness (which feeds) and the NATS server when it runs on this machine.
   */
  async processes(): Promise<ProcessGroup[]> {
    const groups: ProcessGroup[] = this.servers.map((server, index) => ({
      role: this.servers.length > 1 ? `${server.name} gateway ${index + 1}` : server.name,
      pids: [server.pid],
    }));
    if (this.dispatcher) groups.push({ role: 'dispatcher', pids: [this.dispatcher.pid] });
    groups.push(
      { role: 'load processes', pids: this.pool.pids },
      { role: 'real clients', pids: [this.real.pid] },
      { role: 'harness (feeder)', pids: [process.pid] },
    );
    const nats = await natsServerPids();
    if (nats.length > 0 && this.server.name !== 'standalone')
      groups.push({ role: 'NATS server', pids: nats });
    return groups;
  }

  log(message: string): void {
    progress(this.scenario, this.server.name, message);
  }

  /** Connects every load connection, `concurrency` handshakes in flight per load process (0: all at once). */
  async connectLoad(concurrency: number): Promise<ConnectFigures> {
    const total = this.population.clients.length;
    let lastLine = 0;
    const result = await this.pool.connect(concurrency, (connected, refused) => {
      if (performance.now() - lastLine < 2000) return;
      lastLine = performance.now();
      this.log(
        `connected ${grouped(connected)}/${grouped(total)}${refused > 0 ? `, ${grouped(refused)} refused` : ''}`,
      );
    });
    const seconds = (result.finishedAt - result.startedAt) / 1000;
    const refused = Object.values(result.refused).reduce((sum, count) => sum + count, 0);
    this.log(
      `connected ${grouped(result.connected)}/${grouped(total)} in ${seconds.toFixed(1)} s` +
        (refused > 0 ? `; refused ${JSON.stringify(result.refused)}` : ''),
    );
    return {
      attempted: total,
      connected: result.connected,
      refused,
      refusedReasons: result.refused,
      seconds,
      handshakesPerSecond: result.connected / Math.max(seconds, 0.001),
    };
  }

  /**
   * Waits until the load connections have received `target` messages in all since the pool
   * started, or until none arrived for `quietMs`; resolves with how many are still missing.
   */
  async awaitReceipts(target: number, quietMs = 5000, deadlineMs = 30_000): Promise<number> {
    const deadline = performance.now() + deadlineMs;
    let last = this.pool.received;
    let lastChange = performance.now();
    while (this.pool.received < target && performance.now() < deadline) {
      await this.pool.nextReceipts(250);
      if (this.pool.received !== last) {
        last = this.pool.received;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > quietMs) break;
    }
    return Math.max(0, target - this.pool.received);
  }

  /**
   * Ends every scenario: one delivery to each real client's user, one to their organization and
   * one to everyone. Every real client must get all three (and nothing meant for others), every
   * connected load connection (all of them unless told) the one to everyone, and no load
   * connection may have been closed by the server.
   */
  async probe(connected = this.population.everyone.members): Promise<void> {
    const { real, pool, feed, population } = this;
    const before = await real.counts();
    const target = pool.received + connected;
    const userGroups: Group[] = real.specs.map((spec) => ({ kind: 'user', id: spec.userId, members: 0 }));
    for (const group of [...userGroups, population.realOrganization, population.everyone]) {
      await feed.publish(group);
    }
    await feed.settle();
    const least = (index: number): Record<ReceivedVia, number> => {
      const counts = before[index]!;
      return { user: counts.user + 1, organization: counts.organization + 1, everyone: counts.everyone + 1 };
    };
    const deadline = performance.now() + 30_000;
    let realDone = false;
    let after = before;
    while (performance.now() < deadline) {
      after = await real.counts();
      realDone = after.every((counts, index) =>
        (['user', 'organization', 'everyone'] as const).every((via) => counts[via] >= least(index)[via]),
      );
      if (realDone && pool.received >= target) break;
      await sleep(100);
    }
    await real.verify();
    pool.assertAlive();
    const problems: string[] = [];
    if (!realDone) problems.push(`the real clients did not all get the probe: ${JSON.stringify(after)}`);
    if (pool.received < target) {
      problems.push(`${grouped(target - pool.received)} load connections did not get the probe to everyone`);
    }
    if (pool.unexpected > 0) problems.push(`${grouped(pool.unexpected)} messages were not notifications`);
    if (Object.keys(pool.closedByServer).length > 0) {
      problems.push(`the server closed load connections: ${JSON.stringify(pool.closedByServer)}`);
    }
    if (problems.length > 0) throw new Error(`${this.server.name}: ${problems.join('; ')}`);
    this.log('probe: every real client got its user, organization and everyone messages, nothing else');
  }

  async stop(): Promise<void> {
    if (!this.closed) await this.close();
  }
}
