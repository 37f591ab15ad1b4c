import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

import { pino } from 'pino';
import { Registry } from 'prom-client';

import { JwtStrategy } from '@herald/auth';
import {
  ClientType,
  type Delivery,
  type DeliveryKind,
  HubMethod,
  HubName,
  PushType,
} from '@herald/contracts';
import {
  type DeliveryLog,
  type DeliverySubscriber,
  MemoryBroker,
  type PresenceRecord,
} from '@herald/messaging';
import { loadConfig } from '@herald/platform';
import { eventually, TestIssuer } from '@herald/testing';
import {
  CloseReason,
  hubOfGateway,
  SignalRServer,
  type SignalRServerOptions,
  signalRGatewayOptionsOf,
} from '@herald/signalr';

import { type GatewayConfig, gatewayConfigSchema } from '../config/gateway.config';
import { AnonymousHubGateway } from '../hubs/anonymous-hub.gateway';
import { HubAdmission } from '../hubs/hub-admission';
import { AnonymousHubAuthorizer, UserHubAuthorizer } from '../hubs/hub.authorizers';
import { NotificationsHubGateway } from '../hubs/notifications-hub.gateway';
import { CatchUpService } from '../services/catch-up.service';
import { ConnectionRegistry } from '../services/connection-registry.service';
import { DeliveryIntake } from '../services/delivery-intake';
import { FanOutWriter } from '../services/fan-out-writer';
import { PresenceRecorder } from '../services/presence-recorder';
import { ReplayService } from '../services/replay.service';
import { ReplayState } from '../services/replay-state';
import { SessionsService } from '../services/sessions.service';
import { WatermarkService } from '../services/watermark.service';
import { JsonHubClient } from './json-hub-client';

export interface GatewayCoreOptions {
  config?: Partial<GatewayConfig>;
  /** Keep at most this many messages per stream (older ones are trimmed, as JetStream's limits do). */
  maxMessagesPerStream?: number;
  signalr?: Partial<SignalRServerOptions>;
  /** Wraps the delivery log the gateway reads (e.g. to hold a replay's reads). */
  deliveryLog?: (log: DeliveryLog) => DeliveryLog;
  /** Wraps the delivery subscriber the gateway uses (e.g. to make a group's subscribe fail). */
  deliverySubscriber?: (subscriber: DeliverySubscriber) => DeliverySubscriber;
}

/** Signs Bitwarden-shaped client tokens with one key made per test process. */
let sharedIssuer: Promise<TestIssuer> | undefined;

/** Polls until `condition` holds (2 s at most), with the suites' shared `eventually`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  await eventually(
    async () => {
      if (!(await condition())) throw new Error(`timed out waiting for ${what}`);
    },
    { timeoutMs: 2000, intervalMs: 10 },
  );
}

/**
 * The gateway core, wired as `GatewayModule` wires it, on the in-memory broker: the real
 * SignalR server on a loopback port, the real hub, sessions, replay, watermark and catch-up.
 * Deliveries are published straight to the broker (the dispatcher is not part of the core).
 */
export class GatewayCore {
  private sequence = 0;
  private readonly clients: JsonHubClient[] = [];

  private constructor(
    readonly broker: MemoryBroker,
    readonly server: SignalRServer,
    readonly hub: NotificationsHubGateway,
    readonly watermark: WatermarkService,
    readonly catchUp: CatchUpService,
    readonly metrics: Registry,
    private readonly http: Server,
    private readonly issuer: TestIssuer,
  ) {}

  static async start(options: GatewayCoreOptions = {}): Promise<GatewayCore> {
    sharedIssuer ??= TestIssuer.create();
    const issuer = await sharedIssuer;
    const broker = new MemoryBroker({
      namespace: 'core',
      ...(options.maxMessagesPerStream ? { maxMessagesPerStream: options.maxMessagesPerStream } : {}),
    });
    const config: GatewayConfig = {
      ...loadConfig(gatewayConfigSchema, { HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem }),
      ...options.config,
    };
    const logger = pino({ level: 'silent' });
    const metrics = new Registry();
    const server = new SignalRServer(logger, options.signalr);
    const log = options.deliveryLog ? options.deliveryLog(broker.deliveryLog) : broker.deliveryLog;
    const subscriber = options.deliverySubscriber
      ? options.deliverySubscriber(broker.deliverySubscriber)
      : broker.deliverySubscriber;
    const replayState = new ReplayState(config);
    const writer = new FanOutWriter(replayState, metrics);
    const intake = new DeliveryIntake(writer, logger, metrics);
    const registry = new ConnectionRegistry(subscriber, intake, writer, config, metrics);
    const watermark = new WatermarkService(log, subscriber);
    const replay = new ReplayService(
      log,
      subscriber,
      broker.gateways,
      config,
      broker.control,
      broker.presence,
    );
    const recorder = new PresenceRecorder(replayState, watermark, broker.presence, config, logger, metrics);
    const sessions = new SessionsService(
      registry,
      replay,
      replayState,
      writer,
      recorder,
      watermark,
      broker.presence,
      log,
      config,
      logger,
      metrics,
    );
    const catchUp = new CatchUpService(registry, writer, watermark, log, subscriber, logger, metrics);
    const verifier = await JwtStrategy.create({ publicKey: issuer.publicKeyPem });
    // What `SignalRAdapter` does in an application: each gateway and its authorizer make a hub,
    // and the gateway gets the server handle.
    const admission = new HubAdmission(config);
    const hub = new NotificationsHubGateway(config, logger, sessions, broker.control, metrics);
    const anonymous = new AnonymousHubGateway(sessions, logger);
    server.addHub(
      hubOfGateway(
        signalRGatewayOptionsOf(NotificationsHubGateway)!,
        hub,
        new UserHubAuthorizer(config, verifier, admission),
      ),
    );
    server.addHub(
      hubOfGateway(
        signalRGatewayOptionsOf(AnonymousHubGateway)!,
        anonymous,
        new AnonymousHubAuthorizer(config, admission),
      ),
    );
    hub.server = server;
    await hub.onApplicationBootstrap();
    catchUp.onApplicationBootstrap();
    await watermark.refresh();
    const http = createServer((_request, response) => response.writeHead(404).end());
    server.attach(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return new GatewayCore(broker, server, hub, watermark, catchUp, metrics, http, issuer);
  }

  get hubUrl(): string {
    return `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}/hub`;
  }

  /** A `/hub` connection of `userId` from `device`, member of `organizations`. */
  async connect(userId: string, device: string, organizations: string[] = []): Promise<JsonHubClient> {
    const token = await this.issuer.userToken(userId, {
      device,
      ...(organizations.length > 0 ? { orguser: organizations } : {}),
    });
    const client = await JsonHubClient.open(`${this.hubUrl}?access_token=${token}`);
    this.clients.push(client);
    return client;
  }

  /** Publishes a delivery to a group, as the dispatcher would; `marker` comes back as `Payload.Id`. */
  async publish(
    kind: DeliveryKind,
    id: string,
    marker: string,
    options: { eventId?: string; type?: PushType; clientType?: ClientType } = {},
  ): Promise<void> {
    this.sequence += 1;
    const delivery: Delivery = {
      eventId: options.eventId ?? marker,
      hub: HubName.Main,
      method: HubMethod.ReceiveMessage,
      clientType: options.clientType ?? ClientType.All,
      message: { ContextId: null, Type: options.type ?? PushType.SyncFolderUpdate, Payload: { Id: marker } },
      acceptedAt: Date.now(),
      eventSequence: this.sequence,
    };
    await this.broker.deliveryPublisher.publish(kind, id, delivery);
  }

  /**
   * A watermark sample now, then a sign of life from the client: its resume point moves to what
   * has reached the sockets so far.
   */
  async settle(client: JsonHubClient): Promise<void> {
    await this.watermark.refresh();
    const sampled = performance.now();
    client.ping();
    await until(
      () => [...this.server.liveConnections()].some((open) => open.lastReceivedAt > sampled),
      'the ping',
    );
  }

  presence(userId: string, device: string): Promise<PresenceRecord | undefined> {
    return this.broker.presence.get(userId, device);
  }

  async lastSequence(): Promise<number> {
    return (await this.broker.deliveryLog.bounds()).last;
  }

  /** Sum of every series of a metric whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.metrics.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name}`);
    const { values } = await metric.get();
    return values
      .filter((value) => Object.entries(labels).every(([key, label]) => value.labels[key] === label))
      .reduce((sum, value) => sum + value.value, 0);
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.terminate();
    this.catchUp.onModuleDestroy();
    this.watermark.onModuleDestroy();
    void this.server.shutdown(CloseReason.ServerShutdown, true);
    this.http.closeAllConnections();
    await new Promise((resolve) => this.http.close(resolve));
    await this.broker.close();
  }
}

export const newId = (): string => randomUUID();
