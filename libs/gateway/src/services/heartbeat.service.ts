import { hostname } from 'node:os';

import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';

import { type GatewayHeartbeat } from '@herald/contracts';
import { GATEWAY_DIRECTORY, type GatewayDirectory } from '@herald/messaging';
import { heraldVersion, InjectLogger, type Logger } from '@herald/platform';
import { CloseReason } from '@herald/signalr';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { NotificationsHubGateway } from '../hubs/notifications-hub.gateway';
import { ConnectionRegistry } from './connection-registry.service';
import { SessionsService } from './sessions.service';
import { WatermarkService } from './watermark.service';

const BEAT_INTERVAL_MS = 5000;

/**
 * Every 5 s: this gateway's heartbeat (connections per hub, users, subscriptions, delivery and
 * byte rates, slow closes, replays, watermark), published for the heartbeat service and kept in
 * the `gateways` bucket for replay.
 */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private previous = { at: Date.now(), deliveries: 0, bytes: 0 };

  constructor(
    private readonly hubs: NotificationsHubGateway,
    private readonly registry: ConnectionRegistry,
    private readonly sessions: SessionsService,
    private readonly watermark: WatermarkService,
    @Inject(GATEWAY_DIRECTORY) private readonly directory: GatewayDirectory,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @InjectLogger('HeartbeatService') private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), BEAT_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** The current heartbeat; rates are over the time since the previous one. */
  snapshot(): GatewayHeartbeat {
    const now = Date.now();
    const totals = this.registry.totals;
    const seconds = Math.max(0.001, (now - this.previous.at) / 1000);
    const beat: GatewayHeartbeat = {
      gatewayId: this.config.HERALD_GATEWAY_ID,
      host: hostname(),
      version: heraldVersion(),
      startedAt: this.startedAt,
      at: now,
      connections: {
        hub: this.hubs.connectionsOf('hub'),
        'anonymous-hub': this.hubs.connectionsOf('anonymous-hub'),
      },
      users: this.registry.userCount,
      subscriptions: this.registry.groupCount,
      deliveriesPerSecond: round((totals.deliveries - this.previous.deliveries) / seconds),
      bytesPerSecond: round((totals.bytes - this.previous.bytes) / seconds),
      slowClosed: this.hubs.closedFor(CloseReason.SlowConsumer),
      replays: this.sessions.replaysServed,
      watermark: this.watermark.current,
    };
    this.previous = { at: now, deliveries: totals.deliveries, bytes: totals.bytes };
    return beat;
  }

  private async beat(): Promise<void> {
    // A fresh watermark, not the last 1 s sample: devices of a gateway that dies resume from its
    // last beat, so a sample up to a second old would add that second to what they get twice.
    await this.watermark
      .refresh()
      .catch((error: unknown) =>
        this.logger.warn({ err: error }, 'could not refresh the watermark for the heartbeat'),
      );
    try {
      await this.directory.put(this.snapshot());
    } catch (error) {
      this.logger.warn({ err: error }, 'could not publish the heartbeat');
    }
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
