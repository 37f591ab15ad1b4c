import {
  DiscardPolicy,
  type JetStreamManager,
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
}

export const DEFAULT_TOPOLOGY: TopologyOptions = {
  eventsMaxAgeMs: 24 * 3_600_000,
  replayWindowMs: 15 * 60_000,
};

const DUPLICATE_WINDOW_MS = 2 * 60_000;

/** The streams of ARCHITECTURE.md's NATS layout, for one namespace. */
export function streamConfigs(names: NatsNames, options: TopologyOptions): Partial<StreamConfig>[] {
  return [
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
}

/**
 * Creates or updates the streams; safe to run from every process at every start, also
 * concurrently (a lost creation race falls back to an update).
 */
export async function ensureStreams(
  manager: JetStreamManager,
  configs: Partial<StreamConfig>[],
): Promise<void> {
  for (const config of configs) {
    const name = config.name!;
    try {
      await manager.streams.info(name);
      await manager.streams.update(name, config);
    } catch (error) {
      if (!isNotFound(error)) {
        throw error;
      }
      try {
        await manager.streams.add(config);
      } catch (addError) {
        // A lost creation race is reported as "already in use" or, depending on timing, as
        // "subjects overlap with an existing stream" (nats-server 2.9). Either way the stream exists
        // now and is updated; an overlap with some other stream (this name still missing) is fatal.
        if (!(await streamExists(manager, name))) {
          throw addError;
        }
        await manager.streams.update(name, config);
      }
    }
  }
}

async function streamExists(manager: JetStreamManager, name: string): Promise<boolean> {
  try {
    await manager.streams.info(name);
    return true;
  } catch (error) {
    if (isNotFound(error)) {
      return false;
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
  await ensureStreams(
    client.manager,
    streamConfigs(client.names, topology).filter((stream) => !wanted || wanted.includes(stream.name!)),
  );
  return client;
}
