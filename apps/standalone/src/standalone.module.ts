import { type DynamicModule, Module } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';

import { DispatcherModule, dispatcherConsumers } from '@herald/dispatcher';
import { GatewayModule } from '@herald/gateway';
import { HeartbeatModule } from '@herald/heartbeat';
import {
  BROKER_TRANSPORT,
  BrokerTransport,
  EVENT_CONSUMER,
  type EventConsumer,
  MessagingModule,
  messagingOptionsFor,
  type MessagingOptions,
  PUSH_CONSUMER,
  type PushConsumer,
} from '@herald/messaging';
import { type Logger, PlatformModule, ROOT_LOGGER } from '@herald/platform';
import { PushModule, pushConsumers } from '@herald/push';
import { VaultwardenBridgeModule } from '@herald/vaultwarden';

import { type StandaloneConfig } from './standalone.config';

/** Where the dashboard and the cluster view (`info`, `history`) live in the single process. */
export const DASHBOARD_PATH = 'dashboard';

export interface StandaloneModuleOptions {
  config: StandaloneConfig;
  logger: Logger;
}

/** One broker for the whole process: NATS when HERALD_NATS_URL is set, the in-memory engine otherwise. */
export function standaloneMessaging(config: StandaloneConfig): MessagingOptions {
  const { gateway } = config;
  return messagingOptionsFor({
    natsUrl: gateway.HERALD_NATS_URL,
    namespace: gateway.HERALD_NAMESPACE,
    replicas: gateway.HERALD_STREAM_REPLICAS,
    name: `herald-standalone-${gateway.HERALD_GATEWAY_ID}`,
    limits: { eventsMaxAgeMs: gateway.HERALD_EVENTS_MAX_AGE, replayWindowMs: gateway.HERALD_REPLAY_WINDOW },
  });
}

/**
 * All of Herald in one process: gateway, dispatcher, push worker and heartbeat (and the
 * Vaultwarden bridge when HERALD_VAULTWARDEN_DATABASE_URL is set) share one platform
 * (logs, `/health`, `/metrics`), one broker and one HTTP port; the dashboard is under
 * `/dashboard/`. The dispatcher's and the push worker's consumers run on one broker transport.
 */
@Module({})
export class StandaloneModule {
  static forRoot(options: StandaloneModuleOptions): DynamicModule {
    const { config, logger } = options;
    return {
      module: StandaloneModule,
      imports: [
        PlatformModule.forRoot({ service: 'herald', logger }),
        MessagingModule.forRoot(standaloneMessaging(config)),
        GatewayModule.forRoot({ config: config.gateway, logger, embedded: true }),
        DispatcherModule.forRoot({ config: config.dispatcher, logger, embedded: true }),
        PushModule.forRoot({ config: config.push, logger, embedded: true }),
        HeartbeatModule.forRoot({ config: config.heartbeat, logger, embedded: true }),
        RouterModule.register([{ path: DASHBOARD_PATH, module: HeartbeatModule }]),
        ...(config.vaultwardenDatabaseUrl
          ? [
              VaultwardenBridgeModule.forRoot({
                databaseUrl: config.vaultwardenDatabaseUrl,
                logger,
                embedded: true,
              }),
            ]
          : []),
      ],
      providers: [
        {
          provide: BROKER_TRANSPORT,
          useFactory: (events: EventConsumer, push: PushConsumer, root: Logger) =>
            new BrokerTransport({
              events,
              push,
              consumers: { ...dispatcherConsumers(config.dispatcher), ...pushConsumers(config.push) },
              logger: root,
            }),
          inject: [EVENT_CONSUMER, PUSH_CONSUMER, ROOT_LOGGER],
        },
      ],
    };
  }
}
