import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Logger, pino } from 'pino';

import { deleteNamespace, eventually, NatsCluster, TEST_NATS_URL, testNamespace } from '@herald/testing';

import { NatsTestBed, silentLogger } from '../testing/nats.fixture';
import { createNatsBroker } from './nats-broker';
import { NatsClient } from './nats-client';
import {
  DEFAULT_EVENT_CONSUMER,
  dispatcherConsumerSpec,
  ensureDispatcherConsumer,
} from './nats-event-consumer';
import {
  assertReplicasPossible,
  bucketStream,
  DEFAULT_TOPOLOGY,
  ensureStreams,
  StreamReplicasError,
  streamConfigs,
} from './topology';

/** Every stream a broker with scope `all` keeps: its own five and the two behind its buckets. */
function everyStream(client: NatsClient): string[] {
  const { streams, buckets } = client.names;
  return [...Object.values(streams), bucketStream(buckets.gateways), bucketStream(buckets.presence)];
}

/** A logger whose lines the test reads. */
function recordingLogger(): { logger: Logger; lines: { msg: string; stream?: string }[] } {
  const lines: { msg: string; stream?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as { msg: string; stream?: string });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('HERALD_STREAM_REPLICAS on a three-node JetStream cluster', () => {
  let cluster: NatsCluster;
  let bed: NatsTestBed;

  beforeAll(async () => {
    cluster = await NatsCluster.launch();
    // The cluster is private and goes away whole: nothing to delete per namespace.
    bed = new NatsTestBed({ servers: cluster.urls, testNamespace, deleteNamespace: () => Promise.resolve() });
  }, 60_000);

  afterAll(async () => {
    await bed?.close();
    await cluster?.cleanup();
  }, 30_000);

  /** Each stream's configured replica count and the nodes that hold it. */
  async function placement(client: NatsClient, streams: string[]): Promise<Record<string, string>> {
    const found: Record<string, string> = {};
    for (const stream of streams) {
      const info = await client.manager.streams.info(stream);
      const holders = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((peer) => peer.name)];
      found[stream] = `${info.config.num_replicas} on ${holders.filter(Boolean).length} nodes`;
    }
    return found;
  }

  const everywhere = (streams: string[], replicas: number) =>
    Object.fromEntries(streams.map((stream) => [stream, `${replicas} on ${replicas} nodes`]));

  it('keeps every stream and bucket on three nodes, and the dispatcher consumer with them', async () => {
    const client = await bed.connect(testNamespace());
    await createNatsBroker(client, silentLogger, { replicas: 3 });
    await ensureDispatcherConsumer(client, DEFAULT_EVENT_CONSUMER);

    expect(await placement(client, everyStream(client))).toEqual(everywhere(everyStream(client), 3));
    const { stream, durable } = dispatcherConsumerSpec(client.names);
    const consumer = await client.manager.consumers.info(stream, durable);
    expect(consumer.cluster?.replicas).toHaveLength(2);
  });

  it('creates everything once when four services start together, each on another node', async () => {
    const namespace = testNamespace();
    const clients = await Promise.all(
      [0, 1, 2, 0].map((node) =>
        NatsClient.connect({
          servers: cluster.node(node).url,
          namespace,
          name: `starter-${node}`,
          logger: silentLogger,
        }),
      ),
    );
    try {
      const started = await Promise.allSettled(
        clients.map((client) => createNatsBroker(client, silentLogger, { replicas: 3 })),
      );
      expect(
        started.map((result) => (result.status === 'rejected' ? String(result.reason) : 'started')),
      ).toEqual(clients.map(() => 'started'));
      // Both dispatchers (and push workers, with their consumers) do the same with the durable consumer.
      const consumers = await Promise.allSettled(
        clients.map((client) => ensureDispatcherConsumer(client, DEFAULT_EVENT_CONSUMER)),
      );
      expect(
        consumers.map((result) => (result.status === 'rejected' ? String(result.reason) : 'ensured')),
      ).toEqual(clients.map(() => 'ensured'));
      expect(await placement(clients[0]!, everyStream(clients[0]!))).toEqual(
        everywhere(everyStream(clients[0]!), 3),
      );
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('raises streams made with one replica to three at the next start (consumers along), and lowers them back', async () => {
    const client = await bed.connect(testNamespace());
    await createNatsBroker(client, silentLogger, { replicas: 1 });
    await ensureDispatcherConsumer(client, DEFAULT_EVENT_CONSUMER);
    expect(await placement(client, everyStream(client))).toEqual(everywhere(everyStream(client), 1));

    const raised = recordingLogger();
    await createNatsBroker(client, raised.logger, { replicas: 3 });
    expect(await placement(client, everyStream(client))).toEqual(everywhere(everyStream(client), 3));
    expect(
      raised.lines.filter((line) => line.msg === 'stream replicas raised to HERALD_STREAM_REPLICAS'),
    ).toHaveLength(everyStream(client).length);
    // The durable consumer keeps no replica count of its own: JetStream places it with its stream.
    const { stream, durable } = dispatcherConsumerSpec(client.names);
    await eventually(async () =>
      expect((await client.manager.consumers.info(stream, durable)).cluster?.replicas).toHaveLength(2),
    );

    const lowered = recordingLogger();
    await createNatsBroker(client, lowered.logger, { replicas: 1 });
    expect(await placement(client, everyStream(client))).toEqual(everywhere(everyStream(client), 1));
    expect(
      lowered.lines.filter((line) => line.msg === 'stream replicas lowered to HERALD_STREAM_REPLICAS'),
    ).toHaveLength(everyStream(client).length);
  });

  it('refuses more replicas than the cluster has nodes, naming the stream and the setting', async () => {
    const fresh = await bed.connect(testNamespace());
    await expect(createNatsBroker(fresh, silentLogger, { replicas: 5 })).rejects.toThrow(
      new RegExp(
        `^stream ${fresh.names.streams.events} cannot be created with 5 replicas: .*HERALD_STREAM_REPLICAS`,
      ),
    );

    const existing = await bed.connect(testNamespace());
    await createNatsBroker(existing, silentLogger, { replicas: 3 });
    const refused = createNatsBroker(existing, silentLogger, { replicas: 5 });
    await expect(refused).rejects.toBeInstanceOf(StreamReplicasError);
    await expect(refused).rejects.toThrow(
      new RegExp(
        `^stream ${existing.names.streams.events} has 3 replica\\(s\\) and HERALD_STREAM_REPLICAS asks for 5, ` +
          'but NATS refused the change: ',
      ),
    );
    // Nothing was scaled on the way.
    expect(await placement(existing, everyStream(existing))).toEqual(everywhere(everyStream(existing), 3));
  });
});

describe('HERALD_STREAM_REPLICAS on a single NATS server', () => {
  const bed = new NatsTestBed({ servers: TEST_NATS_URL, testNamespace, deleteNamespace });

  afterAll(async () => {
    await bed.close();
  });

  it('refuses more than one replica at start, before touching any stream', async () => {
    const client = await bed.connect(testNamespace());
    expect(() => assertReplicasPossible(client.connection, 1)).not.toThrow();
    await expect(createNatsBroker(client, silentLogger, { replicas: 3 })).rejects.toThrow(
      /^HERALD_STREAM_REPLICAS is 3, but the NATS server .* is not part of a cluster/,
    );
    await expect(client.manager.streams.info(client.names.streams.events)).rejects.toThrow(/not found/);

    // Streams that exist: nats-server 2.9 alone would accept an update to 3 replicas and report 3
    // while keeping one copy, so the refusal must come before any update.
    await createNatsBroker(client, silentLogger, { replicas: 1 });
    await expect(createNatsBroker(client, silentLogger, { replicas: 3 })).rejects.toBeInstanceOf(
      StreamReplicasError,
    );
    const events = await client.manager.streams.info(client.names.streams.events);
    expect(events.config.num_replicas).toBe(1);
  });

  it('names the stream and the setting when the server refuses to create it with more replicas', async () => {
    const client = await bed.connect(testNamespace());
    await expect(
      ensureStreams(client.manager, streamConfigs(client.names, { ...DEFAULT_TOPOLOGY, replicas: 3 })),
    ).rejects.toThrow(
      new RegExp(`^stream ${client.names.streams.events} cannot be created with 3 replicas: .*non-clustered`),
    );
  });
});
