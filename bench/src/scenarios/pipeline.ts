import { connect as connectNats } from 'nats';

import { natsNames } from '@herald/contracts';
import { TEST_NATS_URL } from '@herald/testing';

import { EVENT_PUBLISHERS, EventFeed, EVENTS_IN_FLIGHT } from '../feed/event-feed';
import { type Feed, type Targets } from '../feed/feed';
import { SEND_CONCURRENCY, SendFeed } from '../feed/send-feed';
import { type Group } from '../population';
import { grouped } from '../progress';
import { type ProcessCpu } from '../report/process-usage';
import { type BenchContext, type ConnectFigures, type ServerSession } from '../session';
import { type LatencyFigures, measureLatency, saturate } from './feeding';
import { type Scenario } from './scenario';

/** One way in: HeraldPublishers on NATS, or `/send` on the gateway. */
export interface PipelinePath {
  path: 'nats' | 'send';
  /** What feeds it: publishers × acknowledgements pending, or HTTP requests in flight. */
  inFlight: number;
  seconds: number;
  /** Events the EVENTS stream (or `/send`) accepted per second at saturation. */
  eventsAcceptedPerSecond: number;
  /** Messages the load connections received per second. */
  deliveriesPerSecond: number;
  /** `deliveriesPerSecond` over the connections each event reaches on average. */
  eventsDeliveredPerSecond: number;
  /** This and the other per-event figures: per event delivered (routed by the dispatcher) in the window. */
  dispatcherCpuMicrosecondsPerEvent: number;
  /**
   * Events the dispatcher holds at once over the events it finishes per second (Little's law):
   * how long each event of a saturated dispatcher takes, CPU and waiting for JetStream together.
   * Far above the CPU per event, the dispatcher waits (for JetStream, its consumer's pulls, or a
   * core on a busy machine) rather than computes.
   * Undefined when the dispatcher had no backlog (then it was not the bottleneck).
   */
  dispatcherMillisecondsPerEventInFlight: number | undefined;
  /**
   * Events stored and not yet acknowledged by the dispatcher as the window closed (its consumer's
   * pending plus unacknowledged). Above its concurrency, it had its fill of work the whole time.
   */
  dispatcherBacklog: number;
  /** The dispatcher's write system calls per event: each is a socket write to NATS. */
  dispatcherWriteCallsPerEvent: number;
  gatewayCpuMicrosecondsPerEvent: number;
  /** Every process's CPU over the window, by role: where the cores went. */
  processes: ProcessCpu[];
  /** At half of this path's saturation; offered and received counted in client messages. */
  latency: LatencyFigures;
  eventsOfferedPerSecond: number;
}

export interface PipelineResult {
  connect: ConnectFigures;
  dispatcherConcurrency: number;
  /** Connections one per-user event reaches on average (the users' devices). */
  deliveriesPerEvent: number;
  /** Client messages owed and not yet received, at most (closed loop). */
  window: number;
  nats: PipelinePath;
  send: PipelinePath;
}

const CONNECT_CONCURRENCY = 64;
/**
 * Client messages owed at once: with 1.5 per event, 4,000 events between the publishers and the
 * clients, so that the pipeline's own latency does not cap its rate, and a backlog that fills
 * within the warm-up.
 */
const WINDOW = 6000;

/** Every user in turn: each event reaches one or two connections, so the dispatcher, not fan-out, is the work. */
class UserCycle implements Targets {
  private position = 0;

  constructor(private readonly users: Group[]) {}

  next(): Group {
    return this.users[this.position++ % this.users.length]!;
  }
}

/** The dispatcher consumer's events not yet acknowledged: waiting in EVENTS, or in its hands. */
async function dispatcherBacklog(namespace: string): Promise<number> {
  const connection = await connectNats({ servers: TEST_NATS_URL, name: 'herald-bench-backlog' });
  try {
    const names = natsNames(namespace);
    const info = await (
      await connection.jetstreamManager()
    ).consumers.info(names.streams.events, names.consumers.dispatcher);
    return info.num_pending + info.num_ack_pending;
  } finally {
    await connection.close();
  }
}

function durations(quick: boolean) {
  return quick
    ? { warmupMs: 2000, measureMs: 6000, latencyMs: 4000 }
    : { warmupMs: 5000, measureMs: 20_000, latencyMs: 10_000 };
}

async function measurePath(
  session: ServerSession,
  feed: Feed,
  path: PipelinePath['path'],
  inFlight: number,
  context: BenchContext,
): Promise<PipelinePath> {
  const { population, options } = context;
  const quick = options.quick;
  const concurrency = options.dispatcherConcurrency;
  const time = durations(quick);
  const perEvent = population.everyone.members / population.users.length;
  const label =
    path === 'nats' ? `${EVENT_PUBLISHERS} NATS publishers` : `/send, ${SEND_CONCURRENCY} requests in flight`;
  session.log(`${label}: saturating, ${grouped(WINDOW)} client messages in flight at most`);
  const targets = new UserCycle(population.users);
  let backlog = 0;
  const measured = await saturate(session, feed, targets, WINDOW, time, async () => {
    backlog = await dispatcherBacklog(session.namespace);
  });
  const role = (name: string) => measured.processes.find((process) => process.role === name);
  const deliveriesPerSecond = measured.received / measured.seconds;
  // Per event the dispatcher finished: at steady state what reaches the clients, whereas the
  // accepted rate also counts a backlog building in EVENTS until the closed loop's window is full.
  const routed = Math.max(measured.received / perEvent, 1);
  const figures = {
    seconds: measured.seconds,
    eventsAcceptedPerSecond: measured.accepted / measured.seconds,
    deliveriesPerSecond,
    eventsDeliveredPerSecond: deliveriesPerSecond / perEvent,
    dispatcherCpuMicrosecondsPerEvent: ((role('dispatcher')?.cpuMs ?? 0) * 1000) / routed,
    dispatcherBacklog: backlog,
    // Little's law holds for a dispatcher that always has its fill in flight: one with a backlog.
    dispatcherMillisecondsPerEventInFlight:
      backlog >= concurrency ? (concurrency * 1000 * measured.seconds) / routed : undefined,
    dispatcherWriteCallsPerEvent: (role('dispatcher')?.writeCalls ?? 0) / routed,
    gatewayCpuMicrosecondsPerEvent: ((role(session.server.name)?.cpuMs ?? 0) * 1000) / routed,
    processes: measured.processes,
  };
  session.log(
    `${label}: ${grouped(figures.eventsAcceptedPerSecond)} events/s accepted, ` +
      `${grouped(figures.eventsDeliveredPerSecond)} events/s (${grouped(deliveriesPerSecond)} messages/s) to clients; ` +
      `dispatcher ${figures.dispatcherCpuMicrosecondsPerEvent.toFixed(1)} µs CPU per event, ` +
      `${grouped(backlog)} events waiting as the window closed`,
  );
  const offered = deliveriesPerSecond / 2;
  const latency = await measureLatency(
    session,
    feed,
    targets,
    'own',
    offered,
    time.latencyMs,
    `half of saturation through ${label}`,
  );
  return {
    path,
    inFlight,
    ...figures,
    latency,
    eventsOfferedPerSecond: offered / perEvent,
  };
}

/**
 * Events through one dispatcher process to clients: per-user events (each reaches the user's one
 * or two connections) from `@herald/publisher`'s HeraldPublisher on NATS, then posted to the
 * gateway's `/send`; each path saturated (closed loop), then fed at half of that for latency.
 * Herald only: the baselines have no dispatcher, nothing to compare.
 */
export const pipeline: Scenario<PipelineResult> = {
  name: 'pipeline',
  feed: (options) =>
    `events (SyncCipherUpdate, each to one user) from ${EVENT_PUBLISHERS} HeraldPublishers on NATS, then posted to ` +
    `\`/send\` (${SEND_CONCURRENCY} requests in flight), routed by one dispatcher ` +
    `(HERALD_DISPATCHER_CONCURRENCY ${options.dispatcherConcurrency})`,
  servers: () => ['herald'],
  async run(open, context) {
    const { population, options, issuer } = context;
    const session = await open({ dispatcher: true });
    const connect = await session.connectLoad(CONNECT_CONCURRENCY);
    if (connect.connected < connect.attempted) throw new Error('herald: not every client connected');
    const events = await EventFeed.connect(session.namespace);
    let nats: PipelinePath;
    try {
      nats = await measurePath(session, events, 'nats', EVENTS_IN_FLIGHT, context);
    } finally {
      await events.close();
    }
    const posts = new SendFeed(new URL(session.server.sendUrl!), await issuer.internalToken());
    let send: PipelinePath;
    try {
      send = await measurePath(session, posts, 'send', SEND_CONCURRENCY, context);
    } finally {
      await posts.close();
    }
    await session.probe();
    return {
      connect,
      dispatcherConcurrency: options.dispatcherConcurrency,
      deliveriesPerEvent: population.everyone.members / population.users.length,
      window: WINDOW,
      nats,
      send,
    };
  },
};
