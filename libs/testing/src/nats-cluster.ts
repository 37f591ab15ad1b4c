import { randomBytes } from 'node:crypto';

import { connect, type JetStreamManager, type NatsConnection } from 'nats';

import { eventually } from './eventually';
import { freePort, isPortClash } from './free-port';
import { NatsServerProcess } from './nats-server-process';

/** One member of a `NatsCluster`: its server, and the name JetStream knows it by. */
export interface NatsClusterNode {
  /** 0-based position in the cluster. */
  index: number;
  /** `server_name`, as stream and consumer infos name their leader and replicas. */
  name: string;
  server: NatsServerProcess;
  /** This node's client URL alone. */
  url: string;
}

/** Who leads a stream, or one of its consumers, by node. */
export interface RaftGroup {
  stream: string;
  consumer?: string;
}

/** How a stream's replicas stand, by node name. */
export interface ReplicaState {
  leader?: string;
  /** Followers that have everything the leader has. */
  current: string[];
  /** Followers that lag or are offline. */
  behind: string[];
}

/**
 * Private `nats-server` processes forming one JetStream cluster on loopback: free client and
 * route ports, a temporary store per node. A test may kill a node (SIGKILL, as a crash) and start
 * it again on the same ports and store, ask who leads a stream or consumer, and move a leader.
 */
export class NatsCluster {
  private constructor(
    readonly nodes: NatsClusterNode[],
    /** A connection that knows every node, for the test's own JetStream requests. */
    private readonly connection: NatsConnection,
    private readonly manager: JetStreamManager,
  ) {}

  /** Every node's client URL, comma-separated: what HERALD_NATS_URL names in a cluster. */
  get urls(): string {
    return this.nodes.map((node) => node.url).join(',');
  }

  /**
   * Starts `size` nodes (3 by default) and resolves once JetStream answers on each, i.e. the
   * cluster has elected its meta leader. Ports another process took meanwhile are picked again.
   */
  static async launch({ size = 3, timeoutMs = 30_000 } = {}): Promise<NatsCluster> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await NatsCluster.tryLaunch(size, timeoutMs);
      } catch (error) {
        if (attempt >= 5 || !isPortClash(error)) throw error;
      }
    }
  }

  private static async tryLaunch(size: number, timeoutMs: number): Promise<NatsCluster> {
    const clusterName = `herald-${randomBytes(3).toString('hex')}`;
    const clientPorts: number[] = [];
    const routePorts: number[] = [];
    for (let index = 0; index < size; index += 1) {
      clientPorts.push(await freePort());
      routePorts.push(await freePort());
    }
    const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`);
    const nodes: NatsClusterNode[] = [];
    for (let index = 0; index < size; index += 1) {
      const name = `${clusterName}-n${index + 1}`;
      const server = await NatsServerProcess.prepare(clientPorts[index]!, [
        '--server_name',
        name,
        '--cluster_name',
        clusterName,
        '--cluster',
        routes[index]!,
        '--routes',
        routes.filter((_, other) => other !== index).join(','),
      ]);
      nodes.push({ index, name, server, url: server.url });
    }
    let connection: NatsConnection | undefined;
    try {
      await Promise.all(nodes.map((node) => node.server.start(timeoutMs)));
      await Promise.all(nodes.map((node) => awaitJetStream(node, timeoutMs)));
      connection = await connect({
        servers: nodes.map((node) => node.url),
        name: 'nats-cluster-test-helper',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
      return new NatsCluster(nodes, connection, await connection.jetstreamManager());
    } catch (error) {
      await connection?.close();
      await Promise.all(nodes.map((node) => node.server.cleanup()));
      throw error;
    }
  }

  node(index: number): NatsClusterNode {
    const node = this.nodes[index];
    if (!node) throw new Error(`the cluster has no node ${index}`);
    return node;
  }

  /** The node that JetStream calls `name`. */
  nodeNamed(name: string | undefined): NatsClusterNode | undefined {
    return this.nodes.find((node) => node.name === name);
  }

  /** Kills a node at once, as a crash would (no clean shutdown, no store flush). */
  async kill(index: number): Promise<void> {
    await this.node(index).server.stop('SIGKILL');
  }

  /** Starts a node again on its ports and store; resolves once it serves JetStream again. */
  async restart(index: number, timeoutMs = 30_000): Promise<void> {
    const node = this.node(index);
    await node.server.start(timeoutMs);
    await awaitJetStream(node, timeoutMs);
  }

  /** The leader's node name, or undefined while the group has none (an election is on). */
  async leaderOf(group: RaftGroup): Promise<string | undefined> {
    try {
      const info = group.consumer
        ? await this.manager.consumers.info(group.stream, group.consumer)
        : await this.manager.streams.info(group.stream);
      return info.cluster?.leader;
    } catch {
      return undefined;
    }
  }

  /**
   * Asks the group's leader to step down until `index` leads it (a step-down hands leadership to
   * a follower of the leader's choosing, so it may take a few); false if it never did.
   */
  async moveLeader(group: RaftGroup, index: number, attempts = 30): Promise<boolean> {
    const target = this.node(index).name;
    const subject = group.consumer
      ? `$JS.API.CONSUMER.LEADER.STEPDOWN.${group.stream}.${group.consumer}`
      : `$JS.API.STREAM.LEADER.STEPDOWN.${group.stream}`;
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      const leader = await eventually(
        async () => {
          const current = await this.leaderOf(group);
          if (!current) throw new Error(`${group.stream} ${group.consumer ?? ''} has no leader`);
          return current;
        },
        { timeoutMs: 20_000, intervalMs: 50 },
      );
      if (leader === target) return true;
      await this.connection.request(subject, undefined, { timeout: 5000 });
      await eventually(
        async () => {
          const next = await this.leaderOf(group);
          if (!next || next === leader) throw new Error('no new leader yet');
        },
        { timeoutMs: 20_000, intervalMs: 50 },
      );
    }
    return (await this.leaderOf(group)) === target;
  }

  /** Where a stream's replicas stand; a node that is down shows as behind. */
  async replicas(stream: string): Promise<ReplicaState> {
    const { cluster } = await this.manager.streams.info(stream);
    const followers = cluster?.replicas ?? [];
    return {
      leader: cluster?.leader,
      current: followers.filter((peer) => peer.current && !peer.offline).map((peer) => peer.name),
      behind: followers.filter((peer) => !peer.current || peer.offline).map((peer) => peer.name),
    };
  }

  /** Resolves once every replica of every stream given is current, the leader included. */
  async awaitReplicasCurrent(streams: string[], timeoutMs = 30_000): Promise<void> {
    await eventually(
      async () => {
        for (const stream of streams) {
          const state = await this.replicas(stream);
          if (!state.leader || state.behind.length > 0 || state.current.length !== this.nodes.length - 1) {
            throw new Error(`${stream}: ${JSON.stringify(state)}`);
          }
        }
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** Everything the nodes wrote, for diagnostics. */
  tail(lines = 20): string {
    return this.nodes.map((node) => `--- ${node.name}\n${node.server.tail(lines)}`).join('\n');
  }

  /** Closes the helper's connection, stops every node, removes the stores. */
  async cleanup(): Promise<void> {
    await this.connection.close().catch(() => undefined);
    await Promise.all(this.nodes.map((node) => node.server.cleanup()));
  }
}

/** Resolves once `node` answers a JetStream request of its own clients (the meta leader is known). */
async function awaitJetStream(node: NatsClusterNode, timeoutMs: number): Promise<void> {
  // Only this node: a client would otherwise learn the others from the cluster and move to them.
  const direct = await connect({ servers: node.url, name: 'nats-cluster-probe', ignoreClusterUpdates: true });
  try {
    await eventually(
      async () => {
        const manager = await direct.jetstreamManager({ checkAPI: false, timeout: 1000 });
        await manager.getAccountInfo();
      },
      { timeoutMs, intervalMs: 100 },
    );
  } finally {
    await direct.close();
  }
}
