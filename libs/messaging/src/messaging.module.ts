import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

import { HealthService } from '@herald/platform';

import { NatsClient } from './nats/nats-client';

/** Registers NATS in readiness and drains it last, after every other module stopped using it. */
@Injectable()
class NatsLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(NatsClient) private readonly client: NatsClient,
    private readonly health: HealthService,
    private readonly registry: Registry,
  ) {}

  onModuleInit(): void {
    this.health.register('nats', () => this.client.connected);
    const reconnects: Counter = new Counter({
      name: 'herald_nats_reconnects_total',
      help: 'Times this process reconnected to NATS',
      registers: [this.registry],
      collect: () => {
        reconnects.reset();
        reconnects.inc(this.client.reconnectCount);
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}

@Global()
@Module({})
export class MessagingModule {
  static forRoot(client: NatsClient): DynamicModule {
    return {
      module: MessagingModule,
      providers: [{ provide: NatsClient, useValue: client }, NatsLifecycle],
      exports: [NatsClient],
    };
  }
}
