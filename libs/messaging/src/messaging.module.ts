import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
  type Provider,
} from '@nestjs/common';
import { type Logger } from 'pino';
import { Counter, Registry } from 'prom-client';

import { HealthService, ROOT_LOGGER } from '@herald/platform';

import { type MemoryBrokerOptions, MemoryBroker } from './memory/memory-broker';
import { createNatsBroker, type NatsStreamScope } from './nats/nats-broker';
import { NatsClient, type NatsClientOptions } from './nats/nats-client';
import {
  type Broker,
  type BrokerLimits,
  BROKER_STATUS,
  CLUSTER_SOURCE,
  CONTROL_BUS,
  DEAD_LETTER_LOG,
  DELIVERY_LOG,
  DELIVERY_PUBLISHER,
  DELIVERY_SUBSCRIBER,
  EVENT_CONSUMER,
  EVENT_LOG,
  GATEWAY_DIRECTORY,
  HEARTBEAT_PUBLISHER,
  PRESENCE_STORE,
  PUSH_CONSUMER,
  PUSH_QUEUE,
} from './ports';

/** The engine behind every port token. */
export const BROKER = Symbol('Broker');

/** Which engine `MessagingModule.forRoot` builds the ports on. */
export type MessagingOptions =
  | {
      engine: 'nats';
      /** Where to connect (the logger is the platform's root logger). */
      connection: Omit<NatsClientOptions, 'logger'>;
      limits?: Partial<BrokerLimits>;
      /** Which streams this process configures (default `all`). */
      scope?: NatsStreamScope;
      /** Copies of every stream and bucket (default 1). */
      replicas?: number;
    }
  | {
      engine: 'nats';
      /** A client already connected; the module drains it at shutdown. */
      client: NatsClient;
      limits?: Partial<BrokerLimits>;
      scope?: NatsStreamScope;
      replicas?: number;
    }
  | ({ engine: 'memory' } & Omit<MemoryBrokerOptions, 'logger'>);

/** What a service knows about its broker, from its configuration. */
export interface BrokerSettings {
  /** HERALD_NATS_URL: set selects NATS; unset selects the in-memory engine (one process). */
  natsUrl?: string;
  /** HERALD_NAMESPACE. */
  namespace: string;
  /** This process as NATS lists its connection, e.g. `herald-dispatcher-<pid>`. */
  name: string;
  limits?: Partial<BrokerLimits>;
  scope?: NatsStreamScope;
  /** HERALD_STREAM_REPLICAS: copies of every stream and bucket; NATS only. */
  replicas?: number;
}

/** The engine a service's configuration selects: NATS when a URL is set, memory otherwise. */
export function messagingOptionsFor(settings: BrokerSettings): MessagingOptions {
  const { natsUrl, namespace, name, limits, scope, replicas } = settings;
  return natsUrl
    ? { engine: 'nats', connection: { servers: natsUrl, namespace, name }, limits, scope, replicas }
    : { engine: 'memory', namespace, limits };
}

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

/** The in-memory engine: always ready; released last. */
@Injectable()
class MemoryLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(BROKER) private readonly broker: Broker,
    private readonly health: HealthService,
  ) {}

  onModuleInit(): void {
    this.health.register('broker', () => this.broker.isConnected());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.broker.close();
  }
}

const PORTS: [symbol, (broker: Broker) => unknown][] = [
  [BROKER_STATUS, (broker) => broker],
  [CLUSTER_SOURCE, (broker) => broker.cluster],
  [CONTROL_BUS, (broker) => broker.control],
  [DEAD_LETTER_LOG, (broker) => broker.deadLetters],
  [DELIVERY_LOG, (broker) => broker.deliveryLog],
  [DELIVERY_PUBLISHER, (broker) => broker.deliveryPublisher],
  [DELIVERY_SUBSCRIBER, (broker) => broker.deliverySubscriber],
  [EVENT_CONSUMER, (broker) => broker.eventConsumer],
  [EVENT_LOG, (broker) => broker.eventLog],
  [GATEWAY_DIRECTORY, (broker) => broker.gateways],
  [HEARTBEAT_PUBLISHER, (broker) => broker.heartbeats],
  [PRESENCE_STORE, (broker) => broker.presence],
  [PUSH_CONSUMER, (broker) => broker.pushConsumer],
  [PUSH_QUEUE, (broker) => broker.pushQueue],
];

/** Every port token, for modules that re-export or check them. */
export const BROKER_PORT_TOKENS: readonly symbol[] = PORTS.map(([token]) => token);

@Global()
@Module({})
export class MessagingModule {
  /**
   * `forRoot(client)`: the NATS connection only, as the services are wired today.
   * `forRoot({ engine })`: every port token (and `BROKER`) on the chosen engine; with NATS, the
   * connection and the streams are made at start, and `NatsClient` is provided too.
   */
  static forRoot(client: NatsClient): DynamicModule;
  static forRoot(options: MessagingOptions): DynamicModule;
  static forRoot(options: NatsClient | MessagingOptions): DynamicModule {
    if (!('engine' in options)) {
      return {
        module: MessagingModule,
        providers: [{ provide: NatsClient, useValue: options }, NatsLifecycle],
        exports: [NatsClient],
      };
    }
    const ports: Provider[] = PORTS.map(([token, pick]) => ({
      provide: token,
      useFactory: pick,
      inject: [BROKER],
    }));
    const tokens = [BROKER, ...BROKER_PORT_TOKENS];
    if (options.engine === 'memory') {
      const { engine: _engine, ...memory } = options;
      return {
        module: MessagingModule,
        providers: [
          {
            provide: BROKER,
            useFactory: (logger: Logger) => new MemoryBroker({ ...memory, logger }),
            inject: [ROOT_LOGGER],
          },
          MemoryLifecycle,
          ...ports,
        ],
        exports: tokens,
      };
    }
    const { limits, scope, replicas } = options;
    const client: Provider =
      'client' in options
        ? { provide: NatsClient, useValue: options.client }
        : {
            provide: NatsClient,
            useFactory: (logger: Logger) => NatsClient.connect({ ...options.connection, logger }),
            inject: [ROOT_LOGGER],
          };
    return {
      module: MessagingModule,
      providers: [
        {
          provide: BROKER,
          useFactory: (client: NatsClient, logger: Logger) =>
            createNatsBroker(client, logger, { limits, scope, replicas }),
          inject: [NatsClient, ROOT_LOGGER],
        },
        client,
        NatsLifecycle,
        ...ports,
      ],
      exports: [NatsClient, ...tokens],
    };
  }
}
