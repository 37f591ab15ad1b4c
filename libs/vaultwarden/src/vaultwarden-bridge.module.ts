import { type DynamicModule, Module } from '@nestjs/common';

import { MessagingModule, messagingOptionsFor, type MessagingOptions } from '@herald/messaging';
import { componentLogger, type Logger, PlatformModule, ROOT_LOGGER } from '@herald/platform';

import {
  type BridgeTimings,
  DEFAULT_TIMINGS,
  type VaultwardenBridgeConfig,
} from './config/vaultwarden-bridge.config';
import { ChangeQueueConsumer } from './consumers/change-queue.consumer';
import { VaultwardenDatabase } from './repositories/vaultwarden-database.repository';
import { BridgeHeartbeatService } from './services/bridge-heartbeat.service';
import { BridgeMetricsService } from './services/bridge-metrics.service';
import { BRIDGE_TIMINGS, VAULTWARDEN_DATABASE } from './vaultwarden.tokens';

export interface VaultwardenBridgeModuleOptions {
  /** HERALD_VAULTWARDEN_DATABASE_URL. */
  databaseUrl: string;
  logger: Logger;
  /** The broker engine (service only; embedded modules share the application's). */
  messaging?: MessagingOptions;
  /**
   * Part of the single-process Herald: the application provides the platform and the broker
   * (one of each for every module).
   */
  embedded?: boolean;
  timings?: Partial<BridgeTimings>;
}

/** The broker settings a bridge's configuration gives. */
export function vaultwardenBridgeMessaging(config: VaultwardenBridgeConfig): MessagingOptions {
  return messagingOptionsFor({
    natsUrl: config.HERALD_NATS_URL,
    namespace: config.HERALD_NAMESPACE,
    replicas: config.HERALD_STREAM_REPLICAS,
    name: `herald-vaultwarden-bridge-${process.pid}`,
    limits: { eventsMaxAgeMs: config.HERALD_EVENTS_MAX_AGE, replayWindowMs: config.HERALD_REPLAY_WINDOW },
  });
}

/**
 * The Vaultwarden bridge: captures committed changes in Vaultwarden's PostgreSQL database and
 * publishes the events Vaultwarden would have sent into the event log (docs/vaultwarden.md).
 */
@Module({})
export class VaultwardenBridgeModule {
  static forRoot(options: VaultwardenBridgeModuleOptions): DynamicModule {
    return {
      module: VaultwardenBridgeModule,
      imports: options.embedded
        ? []
        : [
            PlatformModule.forRoot({ service: 'vaultwarden-bridge', logger: options.logger }),
            MessagingModule.forRoot(options.messaging!),
          ],
      providers: [
        BridgeHeartbeatService,
        BridgeMetricsService,
        ChangeQueueConsumer,
        { provide: BRIDGE_TIMINGS, useValue: { ...DEFAULT_TIMINGS, ...options.timings } },
        {
          provide: VAULTWARDEN_DATABASE,
          useFactory: (root: Logger) =>
            new VaultwardenDatabase(options.databaseUrl, componentLogger(root, 'VaultwardenDatabase')),
          inject: [ROOT_LOGGER],
        },
      ],
    };
  }
}
