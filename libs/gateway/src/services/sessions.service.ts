import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

import {
  type ConnectionStatus,
  DELIVERY_LOG,
  type DeliveryLog,
  PRESENCE_STORE,
  type PresenceStore,
} from '@herald/messaging';
import { InjectLogger, type Logger } from '@herald/platform';
import { CloseReason, type HubConnection } from '@herald/signalr';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { ConnectionRegistry } from './connection-registry.service';
import { FanOutWriter } from './fan-out-writer';
import {
  type DeviceConnection,
  type GatewayConnection,
  isDeviceConnection,
  isGatewayConnection,
} from './gateway-connection';
import { groupsOf } from './hub-identity';
import { PresenceRecorder } from './presence-recorder';
import { ReplayService } from './replay.service';
import { ReplayState } from './replay-state';
import { WatermarkService } from './watermark.service';

type ReplayOutcome = 'none' | 'deliveries' | 'sync-vault';

/**
 * The life of a connection beyond the socket: its groups, where its device stopped last time,
 * the replay of what it missed (through the fan-out writer), and where it stops this time.
 */
@Injectable()
export class SessionsService {
  /** Device connections by id, to answer other gateways' questions about them. */
  private readonly byId = new Map<string, GatewayConnection>();
  /** Reconnections that were sent a replay or a SyncVault, since start. */
  replaysServed = 0;
  private readonly replayed: Counter<'outcome'>;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly replay: ReplayService,
    private readonly replayState: ReplayState,
    private readonly writer: FanOutWriter,
    private readonly recorder: PresenceRecorder,
    private readonly watermark: WatermarkService,
    @Inject(PRESENCE_STORE) private readonly presence: PresenceStore,
    @Inject(DELIVERY_LOG) private readonly log: DeliveryLog,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @InjectLogger('SessionsService') private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.replayed = new Counter({
      name: 'herald_gateway_replays_total',
      help: 'Reconnections of known devices, by what they were sent: deliveries, sync-vault or none',
      labelNames: ['outcome'],
      registers: [metrics],
    });
  }

  /** Before the handshake reply: live traffic flows (held, for a device) once this resolves. */
  async opened(connection: GatewayConnection): Promise<void> {
    const device = isDeviceConnection(connection) ? connection : undefined;
    if (device) this.replayState.hold(device);
    try {
      await this.registry.join(connection, this.groups(connection));
    } catch (error) {
      // The connection is refused: undo every step, so that no group keeps it as a member, no
      // subscription made for it alone stays, and its held buffer is dropped.
      this.registry.leave(connection, this.groups(connection));
      this.replayState.forget(connection);
      throw error;
    }
    if (!device) return;
    this.byId.set(device.id, device);
    const { userId, deviceIdentifier } = device.identity;
    try {
      const [record, bounds] = await Promise.all([
        this.presence.get(userId, deviceIdentifier),
        this.log.bounds(),
      ]);
      const from = await this.replay.resumePoint(userId, deviceIdentifier, record);
      await this.recorder.connected(device, bounds.last);
      this.replayState.setResume(device, { from, upTo: bounds.last, failed: false });
    } catch (error) {
      this.logger.warn(
        { err: error, connectionId: device.id },
        'presence unavailable; the device will be told to sync',
      );
      this.replayState.setResume(device, { from: undefined, upTo: 0, failed: true });
    }
  }

  /** After the handshake reply: replay what the device missed, then switch it to live traffic. */
  async ready(connection: GatewayConnection): Promise<void> {
    const resume = this.replayState.resumeOf(connection);
    if (!resume || !isDeviceConnection(connection)) return;
    let sent: ReadonlySet<string> = new Set();
    let outcome: ReplayOutcome = 'none';
    try {
      const plan = resume.failed
        ? ({ kind: 'sync-vault', reason: 'presence-unavailable', missed: 0 } as const)
        : await this.replay.plan(connection.identity, this.groups(connection), resume.from, resume.upTo);
      if (plan.kind === 'deliveries') {
        sent = this.writer.replay(connection, plan.deliveries);
        outcome = plan.deliveries.length > 0 ? 'deliveries' : 'none';
        // A reconnect that missed nothing is routine (a storm is ten thousand of them): debug.
        this.logger[outcome === 'none' ? 'debug' : 'info'](
          {
            connectionId: connection.id,
            userId: connection.identity.userId,
            from: plan.from,
            upTo: plan.upTo,
            count: plan.deliveries.length,
          },
          'replayed missed deliveries',
        );
      } else if (plan.kind === 'sync-vault') {
        this.writer.syncVault(connection);
        outcome = 'sync-vault';
        this.logger.info(
          { connectionId: connection.id, userId: connection.identity.userId, reason: plan.reason },
          'sent SyncVault instead of a replay',
        );
      }
    } catch (error) {
      this.logger.error(
        { err: error, connectionId: connection.id },
        'replay failed; the device is told to sync',
      );
      this.writer.syncVault(connection);
      outcome = 'sync-vault';
    } finally {
      this.replayState.clearResume(connection);
    }
    if (!this.writer.releaseHeld(connection, sent)) {
      this.writer.syncVault(connection);
      outcome = 'sync-vault';
    }
    this.replayed.inc({ outcome });
    if (outcome !== 'none') this.replaysServed += 1;
  }

  /** Another gateway asks whether a device's previous connection is still open here. */
  statusOf(connectionId: string): ConnectionStatus {
    const connection = this.byId.get(connectionId);
    if (!connection || connection.state === 'closed') return { state: 'closed' };
    return { state: 'open', resumeSequence: this.watermark.asOf(connection.lastReceivedAt) };
  }

  closed(connection: GatewayConnection): void {
    this.byId.delete(connection.id);
    this.registry.leave(connection, this.groups(connection));
    const resume = this.replayState.forget(connection);
    if (!isDeviceConnection(connection)) return;
    // What was written before the client was last heard from; a replay that never finished
    // leaves the resume point where it was.
    // A slow consumer was closed because writes were being refused: resume from the oldest
    // watermark kept (two minutes back), since the refused writes are newer than its last ping.
    const resumeSequence = resume
      ? (resume.from ?? 0)
      : this.watermark.asOf(
          connection.closeReason === CloseReason.SlowConsumer ? 0 : connection.lastReceivedAt,
        );
    this.recorder.closed(connection, resumeSequence);
  }

  /** Shutdown: record where every device stopped, before the sockets are closed. */
  drain(connections: Iterable<HubConnection<unknown>>): Promise<void> {
    return this.recorder.drain(devicesAmong(connections));
  }

  /**
   * After a drain, for connections whose client did not confirm the close: record them as an
   * ordinary close would (up to their last sign of life, or their unfinished replay's start).
   */
  rewind(connections: Iterable<HubConnection<unknown>>): Promise<void> {
    const entries: [DeviceConnection, number][] = [];
    for (const connection of devicesAmong(connections)) {
      const resume = this.replayState.resumeOf(connection);
      entries.push([
        connection,
        resume ? (resume.from ?? 0) : this.watermark.asOf(connection.lastReceivedAt),
      ]);
    }
    return this.recorder.rewind(entries);
  }

  /** Closes every connection of a user held by this gateway. */
  disconnectUser(userId: string, reason: string): number {
    const connections = this.registry.membersOf({ kind: 'user', id: userId });
    for (const connection of connections) {
      connection.close(CloseReason.Disconnected, `Disconnected by the server: ${reason}`, false);
    }
    if (connections.length > 0) {
      this.logger.info(
        { userId, reason, connections: connections.length },
        'closed the connections of a user',
      );
    }
    return connections.length;
  }

  private groups(connection: GatewayConnection) {
    return groupsOf(connection.identity, this.config.HERALD_INSTALLATION_ID);
  }
}

function* devicesAmong(connections: Iterable<HubConnection<unknown>>): Iterable<DeviceConnection> {
  for (const connection of connections) {
    if (isGatewayConnection(connection) && isDeviceConnection(connection)) yield connection;
  }
}
