import { type DynamicModule, Module } from '@nestjs/common';

import { TokenVerifier } from '@herald/auth';
import {
  MessagingModule,
  NatsClient,
  NatsControlBus,
  NatsDeliveryLog,
  NatsDeliverySubscriber,
  NatsEventLog,
  NatsGatewayDirectory,
  NatsPresenceStore,
} from '@herald/messaging';
import { type Logger, PlatformModule, ROOT_LOGGER } from '@herald/platform';
import { SignalRServer } from '@herald/signalr';

import { type GatewayConfig } from './config/gateway.config';
import { ClockController } from './controllers/clock.controller';
import { ControlController } from './controllers/control.controller';
import { NegotiateController } from './controllers/negotiate.controller';
import { SendController } from './controllers/send.controller';
import {
  CONTROL_BUS,
  DELIVERY_LOG,
  EVENT_LOG,
  GATEWAY_CONFIG,
  GATEWAY_DIRECTORY,
  PRESENCE_STORE,
} from './gateway.tokens';
import { NotificationsHub } from './hubs/notifications.hub';
import { CatchUpService } from './services/catch-up.service';
import { HeartbeatService } from './services/heartbeat.service';
import { ConnectionRegistry, DELIVERY_SUBSCRIBER } from './services/connection-registry.service';
import { DeliveryIntake } from './services/delivery-intake';
import { FanOutWriter } from './services/fan-out-writer';
import { PresenceRecorder } from './services/presence-recorder';
import { ReplayState } from './services/replay-state';
import { ReplayService } from './services/replay.service';
import { SessionsService } from './services/sessions.service';
import { WatermarkService } from './services/watermark.service';

export interface GatewayModuleOptions {
  config: GatewayConfig;
  logger: Logger;
  nats: NatsClient;
  verifier: TokenVerifier;
}

@Module({})
export class GatewayModule {
  static forRoot(options: GatewayModuleOptions): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        PlatformModule.forRoot({ service: 'gateway', logger: options.logger }),
        MessagingModule.forRoot(options.nats),
      ],
      controllers: [ClockController, ControlController, NegotiateController, SendController],
      providers: [
        {
          provide: SignalRServer,
          useFactory: (logger: Logger) => new SignalRServer(logger.child({ component: 'signalr' })),
          inject: [ROOT_LOGGER],
        },
        ConnectionRegistry,
        DeliveryIntake,
        FanOutWriter,
        PresenceRecorder,
        ReplayState,
        {
          provide: DELIVERY_SUBSCRIBER,
          useFactory: (client: NatsClient) => new NatsDeliverySubscriber(client),
          inject: [NatsClient],
        },
        {
          provide: EVENT_LOG,
          useFactory: (client: NatsClient) => new NatsEventLog(client),
          inject: [NatsClient],
        },
        {
          provide: CONTROL_BUS,
          useFactory: (client: NatsClient) => new NatsControlBus(client),
          inject: [NatsClient],
        },
        {
          provide: DELIVERY_LOG,
          useFactory: (client: NatsClient) => new NatsDeliveryLog(client),
          inject: [NatsClient],
        },
        {
          provide: GATEWAY_DIRECTORY,
          useFactory: (client: NatsClient) => NatsGatewayDirectory.open(client),
          inject: [NatsClient],
        },
        {
          provide: PRESENCE_STORE,
          useFactory: (client: NatsClient) =>
            NatsPresenceStore.open(client, options.config.HERALD_REPLAY_WINDOW),
          inject: [NatsClient],
        },
        CatchUpService,
        HeartbeatService,
        ReplayService,
        SessionsService,
        WatermarkService,
        { provide: GATEWAY_CONFIG, useValue: options.config },
        NotificationsHub,
        { provide: TokenVerifier, useValue: options.verifier },
      ],
    };
  }
}
