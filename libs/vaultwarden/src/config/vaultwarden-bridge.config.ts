import { z } from 'zod';

import { env } from '@herald/platform';

/** Vaultwarden's PostgreSQL database (`postgres://user:password@host:5432/vaultwarden`). */
const databaseUrl = () =>
  z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'expected postgres://user:password@host:5432/database');

export const vaultwardenBridgeConfigSchema = z.object({
  HERALD_NATS_URL: env.natsUrl(),
  HERALD_NAMESPACE: env.namespace(),
  HERALD_STREAM_REPLICAS: env.streamReplicas(),
  HERALD_LOG_LEVEL: env.logLevel(),
  HERALD_LOG_FORMAT: env.logFormat(),
  HERALD_HOST: env.host(),
  HERALD_VAULTWARDEN_BRIDGE_PORT: env.port(8084),
  // The stream limits it configures, as every service that may create the streams first.
  HERALD_REPLAY_WINDOW: env.duration('15m'),
  HERALD_EVENTS_MAX_AGE: env.duration('24h'),
  HERALD_VAULTWARDEN_DATABASE_URL: databaseUrl(),
});

/** The single process runs the bridge only when HERALD_VAULTWARDEN_DATABASE_URL is set. */
export const embeddedBridgeConfigSchema = z.object({
  HERALD_VAULTWARDEN_DATABASE_URL: databaseUrl().optional(),
});

export type VaultwardenBridgeConfig = z.infer<typeof vaultwardenBridgeConfigSchema>;

/** How the bridge works; fixed, with tests that may shorten them. */
export interface BridgeTimings {
  /** Changes taken from the queue at a time. */
  batchSize: number;
  /** Polls the queue this often even when no notification arrives. */
  pollMs: number;
  /** A bridge that is not the working one tries to become it this often. */
  leaderRetryMs: number;
  /** Checks that its triggers are still installed this often. */
  triggerCheckMs: number;
  /** More cipher changes than this for one user in one batch become one SyncVault. */
  bulkThreshold: number;
}

export const DEFAULT_TIMINGS: BridgeTimings = {
  batchSize: 500,
  pollMs: 2000,
  leaderRetryMs: 3000,
  triggerCheckMs: 60_000,
  bulkThreshold: 25,
};
