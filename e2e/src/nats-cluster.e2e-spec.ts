import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { natsNames } from '@herald/contracts';
import {
  eventually,
  HubClient,
  NatsCluster,
  type RaftGroup,
  ServiceProcess,
  TestIssuer,
  testNamespace,
  postCipherUpdate,
} from '@herald/testing';

/** When an event was posted: before any kill, while a node was dead, after its restart. */
type Phase = 'before' | 'leader down' | 'between' | 'follower down' | 'after' | 'marker';

/** One `/send` the test made, and how it was answered. */
interface Posted {
  id: string;
  userId: string;
  phase: Phase;
  /** HTTP status, or `error` when the request itself failed. */
  status?: number | 'error';
}

/** One SignalR connection of one user on one gateway, and every event id it received (with copies). */
interface Device {
  name: string;
  userId: string;
  client: HubClient;
  received: Map<string, number>;
  closed: boolean;
}

/** What the test learnt from one node's death. */
interface Outage {
  node: string;
  eventsLeaderAfter?: string;
  /** Where the dead node's gateway and dispatcher went. */
  movedTo: string[];
}

const PACE_MS = 25;
/** Events accepted in each phase before the test moves on. */
const PER_PHASE = 40;

/**
 * Herald on a three-node JetStream cluster with HERALD_STREAM_REPLICAS=3. Gateway 1 and dispatcher
 * 1 name only node 1 in HERALD_NATS_URL, gateway 2 and dispatcher 2 only node 2; each client learns
 * the other nodes from the cluster and fails over to them. A steady stream of events goes through
 * both gateways' `/send` while two nodes die in turn (SIGKILL) and come back on their stores:
 *
 * 1. node 1, leading EVENTS, DELIVERIES and the dispatcher's consumer: every leader is elected
 *    anew, and gateway 1 and dispatcher 1 move to the other nodes;
 * 2. node 2, leading nothing: dispatching goes on meanwhile, so gateway 2, moving to another node,
 *    must read back from DELIVERIES what its live subscriptions missed.
 *
 * Real SignalR clients, one per user on each gateway, count what arrives: no accepted event lost.
 */
describe('NATS nodes killed mid-stream on a three-node cluster', () => {
  const namespace = testNamespace('ha');
  const names = natsNames(namespace);
  let cluster: NatsCluster;
  let issuer: TestIssuer;
  const gateways: ServiceProcess[] = [];
  const dispatchers: ServiceProcess[] = [];
  const devices: Device[] = [];

  beforeAll(async () => {
    [cluster, issuer] = await Promise.all([
      NatsCluster.launch(),
      TestIssuer.create('https://vault.example|login'),
    ]);
    const on = (node: number) => ({
      HERALD_NATS_URL: cluster.node(node).url,
      HERALD_NAMESPACE: namespace,
      HERALD_STREAM_REPLICAS: '3',
      HERALD_LOG_LEVEL: 'info',
    });
    const started = await Promise.allSettled([
      ServiceProcess.start('gateway', { ...on(0), HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem }),
      ServiceProcess.start('gateway', { ...on(1), HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem }),
      // A short ack wait: an event whose dispatcher lost its node is handed to the other soon.
      ServiceProcess.start('dispatcher', { ...on(0), HERALD_DISPATCHER_ACK_WAIT: '2s' }),
      ServiceProcess.start('dispatcher', { ...on(1), HERALD_DISPATCHER_ACK_WAIT: '2s' }),
    ]);
    const [gateway1, gateway2, dispatcher1, dispatcher2] = started.map((result) =>
      result.status === 'fulfilled' ? result.value : undefined,
    );
    // Whatever started is stopped in afterAll, also when another service failed to start.
    gateways.push(...[gateway1, gateway2].filter((service) => service !== undefined));
    dispatchers.push(...[dispatcher1, dispatcher2].filter((service) => service !== undefined));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }, 60_000);

  afterAll(async () => {
    await Promise.all(devices.map(({ client }) => client.stop()));
    const codes = await Promise.all([...gateways, ...dispatchers].map((service) => service.stop()));
    await cluster?.cleanup();
    // Every service shut down cleanly on SIGTERM, after all that.
    expect(codes).toEqual([...gateways, ...dispatchers].map(() => 0));
  }, 60_000);

  it('loses no accepted event when a node dies and comes back, twice', async () => {
    const [g1, g2] = gateways as [ServiceProcess, ServiceProcess];
    const [d1, d2] = dispatchers as [ServiceProcess, ServiceProcess];

    // Everything is kept on all three nodes.
    const streams = [names.streams.events, names.streams.deliveries, `KV_${names.buckets.presence}`];
    await cluster.awaitReplicasCurrent(streams);
    const leaders: RaftGroup[] = [
      { stream: names.streams.events },
      { stream: names.streams.deliveries },
      { stream: names.streams.events, consumer: names.consumers.dispatcher },
    ];
    const moveLeaders = async (to: number) => {
      for (const group of leaders) expect(await cluster.moveLeader(group, to)).toBe(true);
    };
    await moveLeaders(0);

    // Four users, each with one MessagePack connection on each gateway.
    const users = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    for (const [index, userId] of users.entries()) {
      for (const [gatewayIndex, gateway] of [g1, g2].entries()) {
        const client = await HubClient.connect(`${gateway.url}/notifications/hub`, {
          token: await issuer.userToken(userId),
          protocol: 'messagepack',
        });
        const device: Device = {
          name: `user${index + 1}@gateway${gatewayIndex + 1}`,
          userId,
          client,
          received: new Map(),
          closed: false,
        };
        client.connection.on('ReceiveMessage', (message: { Payload?: { Id?: unknown } }) => {
          const id = message.Payload?.Id;
          if (typeof id === 'string') device.received.set(id, (device.received.get(id) ?? 0) + 1);
        });
        client.connection.onclose(() => (device.closed = true));
        devices.push(device);
      }
    }

    const token = await issuer.internalToken();
    const posted: Posted[] = [];
    const inFlight: Promise<void>[] = [];
    /** Posts one cipher update through a gateway, as a vault API would. */
    const post = async (entry: Posted, gateway: ServiceProcess): Promise<void> => {
      entry.status = await postCipherUpdate(gateway.url, token, entry, 20_000);
    };
    // The stream: one event every PACE_MS, round robin over the users, the gateways taking turns.
    let phase: Phase = 'before';
    /** When each phase began (for the printed figures only). */
    const began = new Map<Phase, number>([['before', Date.now()]]);
    const enter = (next: Phase) => {
      phase = next;
      began.set(next, Date.now());
    };
    const pump = setInterval(() => {
      const entry: Posted = { id: randomUUID(), userId: users[posted.length % users.length]!, phase };
      posted.push(entry);
      inFlight.push(post(entry, posted.length % 2 === 0 ? g1 : g2));
    }, PACE_MS);
    const accepted = (of: Phase) =>
      posted.filter((entry) => entry.phase === of && entry.status === 200).length;
    const logged = (service: ServiceProcess, message: string) =>
      service.logs.filter((line) => line.msg === message);
    const awaitAccepted = (of: Phase) =>
      eventually(() => expect(accepted(of)).toBeGreaterThanOrEqual(PER_PHASE), { timeoutMs: 20_000 });

    const targets = (entry: Posted) => devices.filter((device) => device.userId === entry.userId);
    /** `device: event` for each of `entries` that has not reached a device of its user yet. */
    const undelivered = (entries: Posted[]) =>
      entries.flatMap((entry) =>
        targets(entry)
          .filter((device) => !device.received.has(entry.id))
          .map((device) => `${device.name}: ${entry.id}`),
      );

    /**
     * Kills a node under a gateway and a dispatcher and waits until both have moved to another
     * node, the gateway has caught up, EVENTS has a leader on a living node, the gateways accepted
     * events meanwhile and those reached the devices; then starts the node again and waits until
     * it is current.
     */
    const outage = async (
      index: number,
      [gateway, dispatcher]: [ServiceProcess, ServiceProcess],
      down: Phase,
      next: Phase,
    ): Promise<Outage> => {
      const node = cluster.node(index);
      const reconnects = () => [gateway, dispatcher].map((s) => logged(s, 'reconnected to NATS'));
      const [gatewayBefore, dispatcherBefore] = reconnects().map((lines) => lines.length);
      const caughtUpBefore = logged(gateway, 'caught up after the NATS outage').length;
      await cluster.kill(index);
      enter(down);
      const outcome: Outage = { node: node.name, movedTo: [] };
      await eventually(
        async () => {
          const [gatewayLines, dispatcherLines] = reconnects();
          expect(gatewayLines!.length).toBeGreaterThan(gatewayBefore!);
          expect(dispatcherLines!.length).toBeGreaterThan(dispatcherBefore!);
          outcome.movedTo = [gatewayLines!.at(-1)!, dispatcherLines!.at(-1)!].map((line) =>
            String(line.server),
          );
          expect(logged(gateway, 'caught up after the NATS outage').length).toBeGreaterThan(caughtUpBefore);
          outcome.eventsLeaderAfter = await cluster.leaderOf(leaders[0]!);
          expect(cluster.nodeNamed(outcome.eventsLeaderAfter)).toBeDefined();
          expect(outcome.eventsLeaderAfter).not.toBe(node.name);
          expect(accepted(down)).toBeGreaterThanOrEqual(PER_PHASE);
        },
        { timeoutMs: 40_000, intervalMs: 100 },
      );
      // Herald works on the two living nodes, not only once the third is back: what they accepted
      // so far in this outage reaches every device before the node is started again.
      const acceptedWhileDown = posted.filter((entry) => entry.phase === down && entry.status === 200);
      await eventually(() => expect(undelivered(acceptedWhileDown)).toEqual([]), {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      await cluster.restart(index);
      enter(next);
      await cluster.awaitReplicasCurrent(streams);
      return outcome;
    };

    const outages: Outage[] = [];
    try {
      await awaitAccepted('before');
      outages.push(await outage(0, [g1, d1], 'leader down', 'between'));
      // Node 2 will lead nothing: the stream goes on through the leaders elsewhere while it is dead.
      await moveLeaders(2);
      await awaitAccepted('between');
      outages.push(await outage(1, [g2, d2], 'follower down', 'after'));
      await awaitAccepted('after');
    } finally {
      clearInterval(pump);
      enter('marker');
      await Promise.all(inFlight);
    }

    const acceptedEntries = posted.filter((entry) => entry.status === 200);
    const markers = users.map((userId): Posted => ({ id: randomUUID(), userId, phase: 'marker' }));

    /** Prints the figures; returns them per device. */
    const report = () => {
      const sent = new Set([...posted, ...markers].map((entry) => entry.id));
      const perDevice = devices.map((device) => {
        const mine = acceptedEntries.filter((entry) => entry.userId === device.userId);
        const delivered = mine.filter((entry) => device.received.has(entry.id)).length;
        const duplicates = mine.reduce(
          (sum, entry) => sum + Math.max(0, (device.received.get(entry.id) ?? 0) - 1),
          0,
        );
        const unexpected = [...device.received.keys()].filter((id) => !sent.has(id)).length;
        return {
          device: device.name,
          accepted: mine.length,
          delivered,
          duplicates,
          lost: mine.length - delivered,
          unexpected,
        };
      });
      const phases: Phase[] = ['before', 'leader down', 'between', 'follower down', 'after'];
      const count = (of: Phase, status: number) =>
        posted.filter((entry) => entry.phase === of && entry.status === status).length;
      const refusedButDelivered = posted.filter(
        (entry) => entry.status !== 200 && devices.some((device) => device.received.has(entry.id)),
      ).length;
      const caughtUp = [g1, g2].map((gateway) =>
        logged(gateway, 'caught up after the NATS outage')
          .map((line) => String(line.deliveries))
          .join('+'),
      );
      process.stdout.write(
        `\n[nats-cluster] posted ${posted.length}; accepted (200) / refused (503) per phase: ` +
          phases
            .map((of, at) => {
              const seconds = ((began.get(phases[at + 1] ?? 'marker') ?? 0) - (began.get(of) ?? 0)) / 1000;
              return `${of} ${count(of, 200)}/${count(of, 503)} in ${seconds.toFixed(1)} s`;
            })
            .join(', ') +
          `; other failures ${posted.filter((entry) => entry.status !== 200 && entry.status !== 503).length}` +
          `; refused but delivered anyway ${refusedButDelivered}\n` +
          outages
            .map(
              (outage) =>
                `  killed ${outage.node}: EVENTS leader now ${outage.eventsLeaderAfter ?? '?'}, its gateway and dispatcher moved to ${outage.movedTo.join(' and ')}\n`,
            )
            .join('') +
          `  deliveries read back after reconnecting: gateway1 ${caughtUp[0]}, gateway2 ${caughtUp[1]}\n` +
          perDevice
            .map(
              (figure) =>
                `  ${figure.device}: accepted ${figure.accepted}, delivered ${figure.delivered}, duplicates ${figure.duplicates}, lost ${figure.lost}\n`,
            )
            .join(''),
      );
      return perDevice;
    };

    try {
      await eventually(() => expect(undelivered(acceptedEntries)).toEqual([]), {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
    } catch (error) {
      report();
      throw error;
    }
    // Nothing else is on its way: one more event per user, posted after everything else (and after
    // both gateways have caught up), has reached every device.
    await Promise.all(markers.map((marker, index) => post(marker, index % 2 === 0 ? g1 : g2)));
    expect(markers.map((marker) => marker.status)).toEqual(markers.map(() => 200));
    await eventually(() =>
      expect(markers.flatMap((marker) => targets(marker).filter((d) => !d.received.has(marker.id)))).toEqual(
        [],
      ),
    );
    const figures = report();

    // Lost: none, on any device.
    expect(figures.map(({ device, lost }) => ({ device, lost }))).toEqual(
      devices.map((device) => ({ device: device.name, lost: 0 })),
    );
    // Duplicates: none. Copies do arise: a dispatcher routes an event again when its ack died with
    // its node (or the node died before every delivery of the event was stored), and a gateway
    // reads back from its watermark deliveries it may already have handed out. Both carry the
    // event id, and each gateway drops an id it has already delivered to a group (it remembers the
    // last 1024 per group): with fewer events per user than that, and clients that stay connected
    // to their gateway throughout, no device can see one twice.
    expect(Math.max(...figures.map((figure) => figure.accepted))).toBeLessThan(1024);
    expect(figures.filter((figure) => figure.duplicates > 0)).toEqual([]);
    // Nothing arrived that had not been sent to that user.
    expect(figures.filter((figure) => figure.unexpected > 0)).toEqual([]);
    // The cluster went on accepting with a node dead, each time; the clients rode it out.
    expect(Math.min(accepted('leader down'), accepted('follower down'))).toBeGreaterThanOrEqual(PER_PHASE);
    expect(devices.filter((device) => device.closed)).toEqual([]);
    // Each dead node's services went to a living node.
    for (const [index, outage] of outages.entries()) {
      expect(outage.movedTo).not.toContain(`127.0.0.1:${cluster.node(index).server.port}`);
    }
  }, 120_000);
});
