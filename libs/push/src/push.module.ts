import { type DynamicModule, Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';

import { type TokenVerifier } from '@herald/auth';
import {
  MessagingModule,
  NatsClient,
  NatsPushConsumer,
  NatsPushQueue,
  PUSH_CONSUMER,
} from '@herald/messaging';
import { type Database } from '@herald/persistence';
import { HealthService, type Logger, PlatformModule, ROOT_LOGGER } from '@herald/platform';

import { type PushConfig } from './config/push.config';
import { PushJobsConsumer, pushJobsTransport } from './consumers/push-jobs.consumer';
import { DevicesController } from './controllers/devices.controller';
import { IdentityController } from './controllers/identity.controller';
import { PushConfigController } from './controllers/push-config.controller';
import { RelayController } from './controllers/relay.controller';
import { RelayTokenGuard } from './controllers/relay-token.guard';
import { PUSH_CONFIG, PUSH_DATABASE, PUSH_QUEUE, USER_TOKEN_VERIFIER } from './push.tokens';
import { PushDeliveryService } from './services/push-delivery.service';
import { PushHeartbeatService } from './services/push-heartbeat.service';
import { PUSH_PROVIDERS, type PushProviders } from './services/push-providers';
import { RegistrationsService } from './services/registrations.service';
import { RelayTokensService } from './services/relay-tokens.service';

export interface PushModuleOptions {
  config: PushConfig;
  logger: Logger;
  nats: NatsClient;
  database: Database;
  providers: PushProviders;
  /** Verifies users' tokens for their own registrations; null when no token source is configured. */
  verifier: TokenVerifier | null;
}

/** Readiness includes the database; it closes after everything else stopped using it. */
@Injectable()
class DatabaseLifecycle implements OnModuleInit {
  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    private readonly health: HealthService,
  ) {}

  onModuleInit(): void {
    this.health.register('database', () => this.database.ping());
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
      imports: [
        PlatformModule.forRoot({ service: 'push-worker', logger: options.logger }),
        MessagingModule.forRoot(options.nats),
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
        { provide: PUSH_DATABASE, useValue: options.database },
        { provide: PUSH_PROVIDERS, useValue: options.providers },
        {
          provide: PUSH_QUEUE,
          useFactory: (client: NatsClient) => new NatsPushQueue(client),
          inject: [NatsClient],
        },
        {
          provide: PUSH_CONSUMER,
          useFactory: (client: NatsClient, logger: Logger) => new NatsPushConsumer(client, logger),
          inject: [NatsClient, ROOT_LOGGER],
        },
        PushDeliveryService,
        PushHeartbeatService,
        pushJobsTransport,
        RegistrationsService,
        RelayTokenGuard,
        RelayTokensService,
        { provide: USER_TOKEN_VERIFIER, useValue: options.verifier },
      ],
    };
  }
}
