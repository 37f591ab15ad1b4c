import { type DynamicModule, Module } from '@nestjs/common';

import { MessagingModule, messagingOptionsFor, type MessagingOptions } from '@herald/messaging';
import { type Logger, PlatformModule } from '@herald/platform';

import { type HeartbeatConfig } from './config/heartbeat.config';
import { ClusterController } from './controllers/cluster.controller';
import { DashboardController } from './controllers/dashboard.controller';
import { ClusterMetricsService } from './services/cluster-metrics.service';
import { ClusterStateService } from './services/cluster-state.service';

export interface HeartbeatModuleOptions {
  config: HeartbeatConfig;
  logger: Logger;
  /** The broker engine; by default the one the configuration selects (HERALD_NATS_URL: NATS). */
  messaging?: MessagingOptions;
  /**
   * Part of the single-process Herald: the application provides the platform and the broker
   * (one of each for every module), and one broker transport for every consumer.
   */
  embedded?: boolean;
}

/**
 * The broker settings a heartbeat service's configuration gives. It only reads the cluster: it
 * configures the HEARTBEATS and DEAD streams, never the limits of the streams other services own.
 */
export function heartbeatMessaging(config: HeartbeatConfig): MessagingOptions {
  return messagingOptionsFor({
    natsUrl: config.HERALD_NATS_URL,
    namespace: config.HERALD_NAMESPACE,
    replicas: config.HERALD_STREAM_REPLICAS,
    name: `herald-heartbeat-${process.pid}`,
    scope: 'cluster',
  });
}

/** The heartbeat service: cluster-wide `/info`, `/history`, `/metrics` and the live dashboard. */
@Module({})
export class HeartbeatModule {
  static forRoot(options: HeartbeatModuleOptions): DynamicModule {
    return {
      module: HeartbeatModule,
      imports: options.embedded
        ? []
        : [
            PlatformModule.forRoot({ service: 'heartbeat', logger: options.logger }),
            MessagingModule.forRoot(options.messaging ?? heartbeatMessaging(options.config)),
          ],
      controllers: [ClusterController, DashboardController],
      providers: [ClusterMetricsService, ClusterStateService],
    };
  }
}
