import { type DynamicModule, Module } from '@nestjs/common';

import { InternalJwtStrategy, JwtStrategy, type KeySourceOptions } from '@herald/auth';
import { MessagingModule, messagingOptionsFor, type MessagingOptions } from '@herald/messaging';
import { type Logger, PlatformModule, ROOT_LOGGER } from '@herald/platform';
import { SignalRServer } from '@herald/signalr';

import { type GatewayConfig } from './config/gateway.config';
import { ClockController } from './controllers/clock.controller';
import { ControlController } from './controllers/control.controller';
import { HubUpgradeRequiredController } from './controllers/hub-upgrade-required.controller';
import { NegotiateController } from './controllers/negotiate.controller';
import { SendController } from './controllers/send.controller';
import { GATEWAY_CONFIG } from './gateway.tokens';
import { AnonymousHubGateway } from './hubs/anonymous-hub.gateway';
import { HubAdmission } from './hubs/hub-admission';
import { AnonymousHubAuthorizer, UserHubAuthorizer } from './hubs/hub.authorizers';
import { NotificationsHubGateway } from './hubs/notifications-hub.gateway';
import { CatchUpService } from './services/catch-up.service';
import { ConnectionRegistry } from './services/connection-registry.service';
import { HeartbeatService } from './services/heartbeat.service';
import { DeliveryIntake } from './services/delivery-intake';
import { FanOutWriter } from './services/fan-out-writer';
import { PresenceRecorder } from './services/presence-recorder';
import { ReplayState } from './services/replay-state';
import { ReplayService } from './services/replay.service';
import { SessionsService } from './services/sessions.service';
import { WatermarkService } from './services/watermark.service';

/**
 * Largest JSON body the gateway reads (the application's body parser, set at boot): room for the
 * largest event the contract allows (10,000 collection ids, about 390 kB); Nest's default of
 * 100 kB would refuse valid ones. Depth and value count are bounded when the payload is parsed.
 */
export const SEND_BODY_LIMIT = '512kb';

export interface GatewayModuleOptions {
  config: GatewayConfig;
  logger: Logger;
  /** The broker engine; by default the one the configuration selects (HERALD_NATS_URL: NATS). */
  messaging?: MessagingOptions;
  /**
   * Part of the single-process Herald: the application provides the platform and the broker
   * (one of each for every module), and one broker transport for every consumer.
   */
  embedded?: boolean;
}

/** The broker settings a gateway's configuration gives. */
export function gatewayMessaging(config: GatewayConfig): MessagingOptions {
  return messagingOptionsFor({
    natsUrl: config.HERALD_NATS_URL,
    namespace: config.HERALD_NAMESPACE,
    replicas: config.HERALD_STREAM_REPLICAS,
    name: `herald-gateway-${config.HERALD_GATEWAY_ID}`,
    limits: { eventsMaxAgeMs: config.HERALD_EVENTS_MAX_AGE, replayWindowMs: config.HERALD_REPLAY_WINDOW },
  });
}

/** Where the gateway's token signing keys come from, and the expected issuer. */
function tokenKeys(config: GatewayConfig): KeySourceOptions {
  return {
    publicKey: config.HERALD_JWT_PUBLIC_KEY,
    jwksUrl: config.HERALD_JWT_JWKS_URL,
    authority: config.HERALD_JWT_AUTHORITY,
    issuer: config.HERALD_JWT_ISSUER,
  };
}

/**
 * The gateway: the SignalR hubs (`@WebSocketGateway`s, served by `SignalRAdapter`, which the
 * application installs), `/send`, negotiate and control; the broker from `MessagingModule`.
 */
@Module({})
export class GatewayModule {
  static forRoot(options: GatewayModuleOptions): DynamicModule {
    const { config } = options;
    return {
      module: GatewayModule,
      imports: options.embedded
        ? []
        : [
            PlatformModule.forRoot({ service: 'gateway', logger: options.logger }),
            MessagingModule.forRoot(options.messaging ?? gatewayMessaging(config)),
          ],
      controllers: [
        ClockController,
        ControlController,
        HubUpgradeRequiredController,
        NegotiateController,
        SendController,
      ],
      providers: [
        AnonymousHubAuthorizer,
        AnonymousHubGateway,
        CatchUpService,
        ConnectionRegistry,
        DeliveryIntake,
        FanOutWriter,
        { provide: GATEWAY_CONFIG, useValue: config },
        HeartbeatService,
        HubAdmission,
        // The internal routes' strategy (`/send`, disconnect).
        { provide: InternalJwtStrategy, useFactory: () => InternalJwtStrategy.create(tokenKeys(config)) },
        // Users' tokens on the hub upgrade; keys are fetched (JWKS, OIDC discovery) before the
        // gateway accepts a connection.
        { provide: JwtStrategy, useFactory: () => JwtStrategy.create(tokenKeys(config)) },
        NotificationsHubGateway,
        PresenceRecorder,
        ReplayService,
        ReplayState,
        SessionsService,
        UserHubAuthorizer,
        {
          provide: SignalRServer,
          useFactory: (logger: Logger) => new SignalRServer(logger.child({ component: 'signalr' })),
          inject: [ROOT_LOGGER],
        },
        WatermarkService,
      ],
    };
  }
}
