import { type DynamicModule, Module } from '@nestjs/common';

import { MessagingModule, NatsClient, NatsClusterSource, NatsGatewayDirectory } from '@herald/messaging';
import { type Logger, PlatformModule } from '@herald/platform';

import { ClusterController } from './controllers/cluster.controller';
import { DashboardController } from './controllers/dashboard.controller';
import { CLUSTER_SOURCE, GATEWAY_DIRECTORY } from './heartbeat.tokens';
import { ClusterMetricsService } from './services/cluster-metrics.service';
import { ClusterStateService } from './services/cluster-state.service';

export interface HeartbeatModuleOptions {
  logger: Logger;
  nats: NatsClient;
}

/** The heartbeat service: cluster-wide `/info`, `/history`, `/metrics` and the live dashboard. */
@Module({})
export class HeartbeatModule {
  static forRoot(options: HeartbeatModuleOptions): DynamicModule {
    return {
      module: HeartbeatModule,
      imports: [
        PlatformModule.forRoot({ service: 'heartbeat', logger: options.logger }),
        MessagingModule.forRoot(options.nats),
      ],
      controllers: [ClusterController, DashboardController],
      providers: [
        {
          provide: CLUSTER_SOURCE,
          useFactory: (client: NatsClient) => new NatsClusterSource(client),
          inject: [NatsClient],
        },
        ClusterMetricsService,
        ClusterStateService,
        {
          provide: GATEWAY_DIRECTORY,
          useFactory: (client: NatsClient) => NatsGatewayDirectory.open(client),
          inject: [NatsClient],
        },
      ],
    };
  }
}
