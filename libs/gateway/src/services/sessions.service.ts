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
import { type ConnectionIdentity, groupsOf, type HubIdentity } from './hub-identity';
import { ReplayService } from './replay.service';
import { WatermarkService } from './watermark.service';

type Connection = HubConnection<ConnectionIdentity>;

/** A device connection between its setup and the end of its replay. */
interface Resume {
  /** Where the previous connection stopped; undefined when the device is unknown. */
  from: number | undefined;
  /** The stream's last sequence once this connection's subscriptions were live. */
  upTo: number;
  failed: boolean;
}

/**
 * The life of a connection beyond the socket: its groups, where its device stopped last time,
 * the replay of what it missed, and where it stops this time.
 */
@Injectable()
export class SessionsService {
  private readonly resumes = new Map<Connection, Resume>();
  /** Device connections by id, to answer other gateways' questions about them. */
  private readonly byId = new Map<string, Connection>();
  private draining = false;
  /** Reconnections that were sent a replay or a SyncVault, since start. */
  replaysServed = 0;
  private readonly replayed: Counter<'outcome'>;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly replay: ReplayService,
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
  async opened(connection: Connection): Promise<void> {
    const device = deviceOf(connection.identity);
    if (device) this.registry.beginReplay(connection);
    await this.registry.join(connection, this.groups(connection));
    if (!device) return;
    const identity = connection.identity as HubIdentity;
    this.byId.set(connection.id, connection);
    try {
      const [record, bounds] = await Promise.all([
        this.presence.get(identity.userId, device),
        this.log.bounds(),
      ]);
      const from = await this.replay.resumePoint(identity.userId, device, record);
      await this.presence.markConnected(identity.userId, device, {
        state: 'connected',
        connectionId: connection.id,
        gatewayId: this.config.HERALD_GATEWAY_ID,
        sinceSequence: bounds.last,
        at: Date.now(),
      });
      this.resumes.set(connection, { from, upTo: bounds.last, failed: false });
    } catch (error) {
      this.logger.warn(
        { err: error, connectionId: connection.id },
        'presence unavailable; the device will be told to sync',
      );
      this.resumes.set(connection, { from: undefined, upTo: 0, failed: true });
    }
  }

  /** After the handshake reply: replay what the device missed, then switch it to live traffic. */
  async ready(connection: Connection): Promise<void> {
    const resume = this.resumes.get(connection);
    if (!resume) return;
    const identity = connection.identity as HubIdentity;
    const sent = new Set<string>();
    let outcome = 'none';
    try {
      const plan = resume.failed
        ? ({ kind: 'sync-vault', reason: 'presence-unavailable', missed: 0 } as const)
        : await this.replay.plan(identity, this.groups(connection), resume.from, resume.upTo);
      if (plan.kind === 'deliveries') {
        for (const delivery of plan.deliveries) {
          this.registry.write(connection, delivery, new Map());
          sent.add(delivery.eventId);
        }
        outcome = plan.deliveries.length > 0 ? 'deliveries' : 'none';
        this.logger.info(
          {
            connectionId: connection.id,
            userId: identity.userId,
            from: plan.from,
            upTo: plan.upTo,
            count: plan.deliveries.length,
          },
          'replayed missed deliveries',
        );
      } else if (plan.kind === 'sync-vault') {
        this.sendSyncVault(connection, identity);
        outcome = 'sync-vault';
        this.logger.info(
          { connectionId: connection.id, userId: identity.userId, reason: plan.reason },
          'sent SyncVault instead of a replay',
        );
      }
    } catch (error) {
      this.logger.error(
        { err: error, connectionId: connection.id },
        'replay failed; the device is told to sync',
      );
      this.sendSyncVault(connection, identity);
      outcome = 'sync-vault';
    } finally {
      this.resumes.delete(connection);
    }
    if (!this.registry.endReplay(connection, sent)) {
      this.sendSyncVault(connection, identity);
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

  closed(connection: Connection): void {
    this.byId.delete(connection.id);
    this.registry.leave(connection, this.groups(connection));
    const resume = this.resumes.get(connection);
    this.resumes.delete(connection);
    const device = deviceOf(connection.identity);
    if (!device || this.draining) return;
    const identity = connection.identity as HubIdentity;
    // What was written before the client was last heard from; a replay that never finished
    // leaves the resume point where it was.
    // A slow consumer was closed because writes were being refused: resume from the oldest
    // watermark kept (two minutes back), since the refused writes are newer than its last ping.
    const resumeSequence = resume
      ? (resume.from ?? 0)
      : this.watermark.asOf(
          connection.closeReason === CloseReason.SlowConsumer ? 0 : connection.lastReceivedAt,
        );
    this.presence
      .markDisconnected(identity.userId, device, {
        state: 'disconnected',
        connectionId: connection.id,
        gatewayId: this.config.HERALD_GATEWAY_ID,
        resumeSequence,
        at: Date.now(),
      })
      .catch((error: unknown) =>
        this.logger.warn(
          { err: error, connectionId: connection.id },
          'could not record where the device stopped',
        ),
      );
  }

  /** Shutdown: record where every device stopped, before the sockets are closed. */
  async drain(connections: Iterable<Connection>): Promise<void> {
    this.draining = true;
    try {
      await this.watermark.refresh();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not refresh the watermark before draining');
    }
    const writes: Promise<void>[] = [];
    for (const connection of connections) {
      const device = deviceOf(connection.identity);
      if (!device || connection.state === 'closed') continue;
      const identity = connection.identity as HubIdentity;
      const resume = this.resumes.get(connection);
      writes.push(
        this.presence.markDisconnected(identity.userId, device, {
          state: 'disconnected',
          connectionId: connection.id,
          gatewayId: this.config.HERALD_GATEWAY_ID,
          resumeSequence: resume ? (resume.from ?? 0) : this.watermark.current,
          at: Date.now(),
        }),
      );
    }
    const results = await Promise.allSettled(writes);
    const failed = results.filter((result) => result.status === 'rejected').length;
    this.logger.info({ devices: writes.length, failed }, 'recorded where every device stopped');
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

  private groups(connection: Connection) {
    return groupsOf(connection.identity, this.config.HERALD_INSTALLATION_ID);
  }

  private sendSyncVault(connection: Connection, identity: HubIdentity): void {
    this.registry.write(connection, ReplayService.syncVault(identity.userId, new Date()), new Map());
  }
}

function deviceOf(identity: ConnectionIdentity): string | null {
  return identity.kind === 'user' ? identity.deviceIdentifier : null;
}
