import { Inject, Injectable } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';

import { PRESENCE_STORE, type PresenceStore } from '@herald/messaging';
import { InjectLogger, type Logger } from '@herald/platform';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { type DeviceConnection } from './gateway-connection';
import { ReplayState } from './replay-state';
import { WatermarkService } from './watermark.service';

/**
 * Writes where each device is and where it stopped: `connected` at setup, `disconnected` with a
 * resume sequence at close, and at shutdown (drain) every open device's record with a freshly
 * sampled watermark before the sockets close; closes after that write nothing more.
 */
@Injectable()
export class PresenceRecorder {
  private draining = false;
  private readonly pendingWrites: Gauge;

  constructor(
    private readonly replayState: ReplayState,
    private readonly watermark: WatermarkService,
    @Inject(PRESENCE_STORE) private readonly presence: PresenceStore,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @InjectLogger('PresenceRecorder') private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.pendingWrites = new Gauge({
      name: 'herald_gateway_presence_writes_pending',
      help: 'Presence records being written (a connect or close waiting for the broker)',
      registers: [metrics],
    });
  }

  connected(connection: DeviceConnection, sinceSequence: number): Promise<void> {
    const { userId, deviceIdentifier } = connection.identity;
    return this.counted(
      this.presence.markConnected(userId, deviceIdentifier, {
        state: 'connected',
        connectionId: connection.id,
        gatewayId: this.config.HERALD_GATEWAY_ID,
        sinceSequence,
        at: Date.now(),
      }),
    );
  }

  /** At close, unless the gateway is draining (the drain wrote the record already). */
  closed(connection: DeviceConnection, resumeSequence: number): void {
    if (this.draining) return;
    this.disconnected(connection, resumeSequence).catch((error: unknown) =>
      this.logger.warn(
        { err: error, connectionId: connection.id },
        'could not record where the device stopped',
      ),
    );
  }

  /** Shutdown: record where every device stopped, before the sockets are closed. */
  async drain(connections: Iterable<DeviceConnection>): Promise<void> {
    this.draining = true;
    try {
      await this.watermark.refresh();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not refresh the watermark before draining');
    }
    const writes: Promise<void>[] = [];
    for (const connection of connections) {
      if (connection.state === 'closed') continue;
      const resume = this.replayState.resumeOf(connection);
      writes.push(this.disconnected(connection, resume ? (resume.from ?? 0) : this.watermark.current));
    }
    const results = await Promise.allSettled(writes);
    const failed = results.filter((result) => result.status === 'rejected').length;
    this.logger.info({ devices: writes.length, failed }, 'recorded where every device stopped');
  }

  /** After a drain: rewrites the records of connections whose client did not confirm the close. */
  async rewind(entries: [DeviceConnection, number][]): Promise<void> {
    if (entries.length === 0) return;
    const results = await Promise.allSettled(
      entries.map(([connection, resumeSequence]) => this.disconnected(connection, resumeSequence)),
    );
    const failed = results.filter((result) => result.status === 'rejected').length;
    this.logger.warn(
      { devices: entries.length, failed },
      'clients did not confirm the close; recorded them up to their last sign of life',
    );
  }

  private disconnected(connection: DeviceConnection, resumeSequence: number): Promise<void> {
    const { userId, deviceIdentifier } = connection.identity;
    return this.counted(
      this.presence.markDisconnected(userId, deviceIdentifier, {
        state: 'disconnected',
        connectionId: connection.id,
        gatewayId: this.config.HERALD_GATEWAY_ID,
        resumeSequence,
        at: Date.now(),
      }),
    );
  }

  /** Counts a write while it is in flight (`herald_gateway_presence_writes_pending`). */
  private counted(write: Promise<void>): Promise<void> {
    this.pendingWrites.inc();
    return write.finally(() => this.pendingWrites.dec());
  }
}
