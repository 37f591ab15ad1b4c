import { type DynamicModule, Module } from '@nestjs/common';

import { MessagingModule, messagingOptionsFor, type MessagingOptions } from '@herald/messaging';
import { type Logger, PlatformModule } from '@herald/platform';

import { type DispatcherConfig } from './config/dispatcher.config';
import { EventsConsumer, eventsTransport } from './consumers/events.consumer';
import { DISPATCHER_CONFIG } from './dispatcher.tokens';
import { DispatchService } from './services/dispatch.service';

export interface DispatcherModuleOptions {
  config: DispatcherConfig;
  logger: Logger;
  /** The broker engine; by default the one the configuration selects (HERALD_NATS_URL: NATS). */
  messaging?: MessagingOptions;
  /**
   * Part of the single-process Herald: the application provides the platform and the broker
   * (one of each for every module), and one broker transport for every consumer.
   */
  embedded?: boolean;
}

/** The broker settings a dispatcher's configuration gives. */
export function dispatcherMessaging(config: DispatcherConfig): MessagingOptions {
  return messagingOptionsFor({
    natsUrl: config.HERALD_NATS_URL,
    namespace: config.HERALD_NAMESPACE,
    replicas: config.HERALD_STREAM_REPLICAS,
    name: `herald-dispatcher-${process.pid}`,
    limits: { eventsMaxAgeMs: config.HERALD_EVENTS_MAX_AGE, replayWindowMs: config.HERALD_REPLAY_WINDOW },
  });
}

/** The dispatcher: consumes vault events, publishes deliveries and push jobs. */
@Module({})
export class DispatcherModule {
  static forRoot(options: DispatcherModuleOptions): DynamicModule {
    return {
      module: DispatcherModule,
      imports: options.embedded
        ? []
        : [
            PlatformModule.forRoot({ service: 'dispatcher', logger: options.logger }),
            MessagingModule.forRoot(options.messaging ?? dispatcherMessaging(options.config)),
          ],
      controllers: [EventsConsumer],
      providers: [
        { provide: DISPATCHER_CONFIG, useValue: options.config },
        DispatchService,
        ...(options.embedded ? [] : [eventsTransport]),
      ],
    };
  }
}
