import { type DynamicModule, Module } from '@nestjs/common';

import {
  EVENT_CONSUMER,
  MessagingModule,
  NatsClient,
  NatsDeliveryPublisher,
  NatsEventConsumers,
  NatsPushQueue,
} from '@herald/messaging';
import { type Logger, PlatformModule, ROOT_LOGGER } from '@herald/platform';

import { type DispatcherConfig } from './config/dispatcher.config';
import { EventsConsumer, eventsTransport } from './consumers/events.consumer';
import { DISPATCHER_CONFIG } from './dispatcher.tokens';
import { DELIVERY_PUBLISHER, DispatchService, PUSH_QUEUE } from './services/dispatch.service';

export interface DispatcherModuleOptions {
  config: DispatcherConfig;
  logger: Logger;
  nats: NatsClient;
}

@Module({})
export class DispatcherModule {
  static forRoot(options: DispatcherModuleOptions): DynamicModule {
    return {
      module: DispatcherModule,
      imports: [
        PlatformModule.forRoot({ service: 'dispatcher', logger: options.logger }),
        MessagingModule.forRoot(options.nats),
      ],
      controllers: [EventsConsumer],
      providers: [
        {
          provide: DELIVERY_PUBLISHER,
          useFactory: (client: NatsClient) => new NatsDeliveryPublisher(client),
          inject: [NatsClient],
        },
        {
          provide: PUSH_QUEUE,
          useFactory: (client: NatsClient) => new NatsPushQueue(client),
          inject: [NatsClient],
        },
        { provide: DISPATCHER_CONFIG, useValue: options.config },
        DispatchService,
        {
          provide: EVENT_CONSUMER,
          useFactory: (client: NatsClient, logger: Logger) => new NatsEventConsumers(client, logger),
          inject: [NatsClient, ROOT_LOGGER],
        },
        eventsTransport,
      ],
    };
  }
}
