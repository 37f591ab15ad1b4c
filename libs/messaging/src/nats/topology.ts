import {
  DiscardPolicy,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  nanos,
} from 'nats';

import { type NatsNames } from '@herald/contracts';

import { NatsClient, type NatsClientOptions } from './nats-client';

export interface TopologyOptions {
  /** How long vault events are kept (default 24 h). */
  eventsMaxAgeMs: number;
  /** How long deliveries are kept for replay (default 15 min). */
  replayWindowMs: number;
  /** Copies of each stream, each on another server (HERALD_STREAM_REPLICAS; default 1). */
  replicas: number;
}

export const DEFAULT_TOPOLOGY: TopologyOptions = {
  eventsMaxAgeMs: 24 * 3_600_000,
  replayWindowMs: 15 * 60_000,
  replicas: 1,
};

const DUPLICATE_WINDOW_MS = 2 * 60_000;

/** The streams of ARCHITECTURE.md's NATS layout, for one namespace. */
export function streamConfigs(names: NatsNames, options: TopologyOptions): Partial<StreamConfig>[] {
  const streams: Partial<StreamConfig>[] = [
    {
      name: names.streams.events,
      subjects: [names.subjects.eventsAll],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(options.eventsMaxAgeMs),
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      discard: DiscardPolicy.Old,
    },
    {
      name: names.streams.deliveries,
      subjects: [names.subjects.deliverAll],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(options.replayWindowMs),
      duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, options.replayWindowMs)),
      discard: DiscardPolicy.Old,
      allow_direct: true,
    },
    {
      // Push jobs: a work queue, each job removed once a worker acks it.
      name: names.streams.push,
      subjects: [names.subjects.pushAll],
      storage: StorageType.File,
      retention: RetentionPolicy.Workqueue,
      max_age: nanos(options.eventsMaxAgeMs),
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      discard: DiscardPolicy.Old,
    },
    {
      // An hour of every service's heartbeats: the history every heartbeat replica reads alike.
      name: names.streams.heartbeats,
      subjects: [names.subjects.heartbeatAll],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(3_600_000),
      discard: DiscardPolicy.Old,
    },
    {
      name: names.streams.dead,
      subjects: [names.subjects.deadAll],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(14 * 86_400_000),
      discard: DiscardPolicy.Old,
    },
  ];
  return streams.map((stream) => ({ ...stream, num_replicas: options.replicas }));
}

/** A stream (or a bucket's stream) whose replica count was changed to the configured one. */
export interface ReplicaChange {
  stream: string;
  from: number;
  to: number;
}

/** The replica count the configuration asks for cannot be had; the message says why and what to do. */
export class StreamReplicasError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      `${message} (HERALD_STREAM_REPLICAS must be the same on every service, and at most the number of ` +
        'JetStream servers in the NATS cluster: each replica lives on a server of its own)',
      options,
    );
    this.name = 'StreamReplicasError';
  }
}

/**
 * Refuses more than one replica on a NATS server that is not part of a cluster. NATS 2.9 would
 * refuse to create such a stream, but it accepts an update of an existing stream to 3 replicas
 * and reports 3 while keeping one copy: the failure must come here, at start, and say so.
 */
export function assertReplicasPossible(connection: NatsConnection, replicas: number): void {
  if (replicas > 1 && !connection.info?.cluster) {
    throw new StreamReplicasError(
      `HERALD_STREAM_REPLICAS is ${replicas}, but the NATS server ${connection.getServer()} is not part ` +
        'of a cluster and keeps 1 copy of each stream: set HERALD_STREAM_REPLICAS=1, or run NATS as a cluster',
    );
  }
}

/** A stream's replica count from its configuration (0 and absent both mean 1). */
function replicasOf(config: Partial<StreamConfig>): number {
  return Math.max(1, config.num_replicas ?? 1);
}

function causeOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Creates or updates the streams; safe to run from every process at every start, also
 * concurrently (a lost creation race falls back to an update). A stream already as configured is
 * left alone. A stream kept with another replica count than configured is scaled to it (JetStream
 * moves the stream's consumers along); when NATS refuses, or cannot create a stream with that
 * many replicas, a `StreamReplicasError` says so. Resolves with the streams whose replica count
 * changed. Give it a `setupManager`: with the client's own, an unanswered request costs 10 s.
 */
export async function ensureStreams(
  manager: JetStreamManager,
  configs: Partial<StreamConfig>[],
): Promise<ReplicaChange[]> {
  const changes: ReplicaChange[] = [];
  for (const config of configs) {
    const change = await answeredChange((intend) => ensureStream(manager, config, intend));
    if (change) changes.push(change);
  }
  return changes;
}

async function ensureStream(
  manager: JetStreamManager,
  config: Partial<StreamConfig>,
  intend: (change: ReplicaChange) => void,
): Promise<ReplicaChange | undefined> {
  const name = config.name!;
  let existing = await existingConfig(manager, name);
  if (!existing) {
    try {
      await manager.streams.add(config);
      return undefined;
    } catch (addError) {
      // A lost creation race is reported as "already in use" or, depending on timing, as
      // "subjects overlap with an existing stream" (nats-server 2.9). Either way the stream exists
      // now and is updated; an overlap with some other stream (this name still missing) is fatal.
      existing = await existingConfig(manager, name);
      if (!existing) {
        if (replicasOf(config) > 1 && !isTimeout(addError)) {
          throw new StreamReplicasError(
            `stream ${name} cannot be created with ${replicasOf(config)} replicas: ${causeOf(addError)}`,
            { cause: addError },
          );
        }
        throw addError;
      }
    }
  }
  return matches(existing, config) ? undefined : updateStream(manager, name, existing, config, intend);
}

/** True when every setting `wanted` names has that value already. */
function matches(existing: Partial<StreamConfig>, wanted: Partial<StreamConfig>): boolean {
  return Object.entries(wanted).every(
    ([key, value]) => JSON.stringify(existing[key as keyof StreamConfig]) === JSON.stringify(value),
  );
}

/** How long a topology request may go unanswered before it is asked again. */
export const SETUP_REQUEST_TIMEOUT_MS = 2_000;
const SETUP_ATTEMPTS = 15;

/** A manager for topology requests: short timeouts, since `answered` asks again. */
export function setupManager(connection: NatsConnection): Promise<JetStreamManager> {
  return connection.jetstreamManager({ timeout: SETUP_REQUEST_TIMEOUT_MS, checkAPI: false });
}

/**
 * Runs a setup step again when NATS leaves one of its requests unanswered. In a cluster,
 * nats-server 2.9 answers only one of several identical stream creations that arrive together,
 * and may not answer an update of a stream that has just been created: services that start
 * together meet both. Every step reads the state afresh, so running it again is safe.
 */
/**
 * `answered` for a step that may change a stream's replica count: when the request making the
 * change goes unanswered but the change is made, the next attempt finds nothing to change and
 * reports nothing; the change the first attempt set out to make is reported instead.
 */
async function answeredChange(
  step: (intend: (change: ReplicaChange) => void) => Promise<ReplicaChange | undefined>,
): Promise<ReplicaChange | undefined> {
  let intended: ReplicaChange | undefined;
  const made = await answered(() => step((change) => (intended ??= change)));
  return made ?? intended;
}

export async function answered<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await step();
    } catch (error) {
      if (attempt >= SETUP_ATTEMPTS || !isTimeout(error)) throw error;
    }
  }
}

function isTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'TIMEOUT';
}

/** Updates a stream to `config`; a refused change of its replica count is a `StreamReplicasError`. */
async function updateStream(
  manager: JetStreamManager,
  name: string,
  existing: Partial<StreamConfig>,
  config: Partial<StreamConfig>,
  intend: (change: ReplicaChange) => void,
): Promise<ReplicaChange | undefined> {
  const from = replicasOf(existing);
  const to = config.num_replicas === undefined ? from : replicasOf(config);
  if (from !== to) intend({ stream: name, from, to });
  try {
    await manager.streams.update(name, config);
  } catch (error) {
    // Unanswered is not refused: `answered` asks again, and finds the change made or not.
    if (from === to || isTimeout(error)) throw error;
    throw new StreamReplicasError(
      `stream ${name} has ${from} replica(s) and HERALD_STREAM_REPLICAS asks for ${to}, ` +
        `but NATS refused the change: ${causeOf(error)}`,
      { cause: error },
    );
  }
  return from === to ? undefined : { stream: name, from, to };
}

/** The stream JetStream keeps a KV bucket in. */
export function bucketStream(bucket: string): string {
  return `KV_${bucket}`;
}

/**
 * Opens a KV bucket (one value per key, entries expiring after `ttlMs`), created with `replicas`
 * when missing; unanswered creations are asked again, as for streams.
 */
export async function openBucket(
  client: NatsClient,
  bucket: string,
  { ttlMs, replicas }: { ttlMs: number; replicas: number },
): Promise<KV> {
  const options = { ttl: ttlMs, history: 1, replicas };
  const setup = client.connection.jetstream({ timeout: SETUP_REQUEST_TIMEOUT_MS });
  await answered(() => setup.views.kv(bucket, options));
  // Opened again on the client's own context, whose timeouts its reads and writes keep.
  return client.jetstream.views.kv(bucket, options);
}

/**
 * Gives the stream behind a bucket the configured replica count. Opening a bucket creates it with
 * the replicas asked for, but leaves an existing one as it is.
 */
export async function ensureBucketReplicas(
  manager: JetStreamManager,
  bucketStream: string,
  replicas: number,
): Promise<ReplicaChange | undefined> {
  return answeredChange(async (intend) => {
    const existing = await existingConfig(manager, bucketStream);
    if (!existing || replicasOf(existing) === replicas) return undefined;
    return updateStream(manager, bucketStream, existing, { ...existing, num_replicas: replicas }, intend);
  });
}

/** The stream's configuration, or undefined when there is no such stream. */
async function existingConfig(manager: JetStreamManager, name: string): Promise<StreamConfig | undefined> {
  try {
    return (await manager.streams.info(name)).config;
  } catch (error) {
    if (isNotFound(error)) {
      return undefined;
    }
    throw error;
  }
}

export function isNotFound(error: unknown): boolean {
  return /not found/i.test(String(error));
}

/** Connects and makes sure the streams exist (all of them, or those `only` names). */
export async function connectWithStreams(
  options: NatsClientOptions,
  topology: TopologyOptions,
  only?: (names: NatsNames) => string[],
): Promise<NatsClient> {
  const client = await NatsClient.connect(options);
  const wanted = only?.(client.names);
  assertReplicasPossible(client.connection, topology.replicas);
  await ensureStreams(
    await setupManager(client.connection),
    streamConfigs(client.names, topology).filter((stream) => !wanted || wanted.includes(stream.name!)),
  );
  return client;
}
