import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';

import { type JwtStrategy } from '@herald/auth';
import { MessagingModule, messagingOptionsFor, type MessagingOptions } from '@herald/messaging';
import { type Database } from '@herald/persistence';
import { HealthService, InjectLogger, type Logger, PlatformModule } from '@herald/platform';

import { type PushConfig } from './config/push.config';
import { PushJobsConsumer, pushJobsTransport } from './consumers/push-jobs.consumer';
import { DevicesController } from './controllers/devices.controller';
import { IdentityController } from './controllers/identity.controller';
import { PushConfigController } from './controllers/push-config.controller';
import { RelayController } from './controllers/relay.controller';
import { RelayTokenGuard } from './controllers/relay-token.guard';
import { RelayStrategy } from './controllers/relay.strategy';
import { UserTokenGuard } from './controllers/user-token.guard';
import { pushFactories } from './push.factories';
import { PUSH_CONFIG, PUSH_DATABASE, USER_JWT_STRATEGY } from './push.tokens';
import { PushDeliveryService } from './services/push-delivery.service';
import { PushHeartbeatService } from './services/push-heartbeat.service';
import { PUSH_PROVIDERS, type PushProviders } from './services/push-providers';
import { RegistrationsService } from './services/registrations.service';
import { RelayTokensService } from './services/relay-tokens.service';

export interface PushModuleOptions {
  config: PushConfig;
  logger: Logger;
  /** The broker engine; by default the one the configuration selects (HERALD_NATS_URL: NATS). */
  messaging?: MessagingOptions;
  /**
   * Part of the single-process Herald: the application provides the platform and the broker
   * (one of each for every module), and one broker transport for every consumer.
   */
  embedded?: boolean;
}

/** The broker settings a push worker's configuration gives. */
export function pushMessaging(config: PushConfig): MessagingOptions {
  return messagingOptionsFor({
    natsUrl: config.HERALD_NATS_URL,
    namespace: config.HERALD_NAMESPACE,
    replicas: config.HERALD_STREAM_REPLICAS,
    name: `herald-push-worker-${process.pid}`,
    limits: { eventsMaxAgeMs: config.HERALD_EVENTS_MAX_AGE, replayWindowMs: config.HERALD_REPLAY_WINDOW },
  });
}

/** Readiness includes the database; it closes after everything else stopped using it. */
@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    @Inject(PUSH_PROVIDERS) private readonly providers: PushProviders,
    @Inject(USER_JWT_STRATEGY) private readonly userTokens: JwtStrategy | null,
    private readonly health: HealthService,
    @InjectLogger('PushModule') private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.health.register('database', () => this.database.ping());
    this.logger.info(
      {
        database: this.database.kind,
        providers: Object.keys(this.providers),
        userRegistrations: Boolean(this.userTokens),
      },
      'push worker configured',
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.database.close();
  }
}

/** The push worker: the device registry's HTTP API and the delivery of push jobs. */
@Module({})
export class PushModule {
  static forRoot(options: PushModuleOptions): DynamicModule {
    return {
      module: PushModule,
      imports: options.embedded
        ? []
        : [
            PlatformModule.forRoot({ service: 'push-worker', logger: options.logger }),
            MessagingModule.forRoot(options.messaging ?? pushMessaging(options.config)),
          ],
      controllers: [
        DevicesController,
        IdentityController,
        PushConfigController,
        PushJobsConsumer,
        RelayController,
      ],
      providers: [
        DatabaseLifecycle,
        { provide: PUSH_CONFIG, useValue: options.config },
        ...pushFactories(options.config),
        PushDeliveryService,
        PushHeartbeatService,
        ...(options.embedded ? [] : [pushJobsTransport]),
        RegistrationsService,
        RelayStrategy,
        RelayTokenGuard,
        RelayTokensService,
        UserTokenGuard,
      ],
    };
  }
}
