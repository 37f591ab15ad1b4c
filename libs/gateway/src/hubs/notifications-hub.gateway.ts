import { type BeforeApplicationShutdown, Inject, type OnApplicationBootstrap } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { Gauge, Registry } from 'prom-client';

import { CONTROL_BUS, type ControlBus, type Unsubscribe } from '@herald/messaging';
import { type Logger, ROOT_LOGGER } from '@herald/platform';
import { CloseReason, type SignalRGatewayOptions, type SignalRServer } from '@herald/signalr';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { type HubIdentity } from '../services/hub-identity';
import { SessionsService } from '../services/sessions.service';
import { UserHubAuthorizer } from './hub.authorizers';
import { HubSessions } from './hub-sessions';

/**
 * Signed-in clients: `/hub` (and under `/notifications`). Also the one holder of the SignalR
 * server handle, for what concerns every connection of the gateway: the connection gauge and
 * counts, cluster-wide disconnects, and the drain on SIGTERM.
 */
@WebSocketGateway<SignalRGatewayOptions>({
  hub: 'hub',
  path: ['/hub', '/notifications/hub'],
  authorizer: UserHubAuthorizer,
  // Bitwarden's hub invokes `Heartbeat` on every connection every two minutes.
  periodicInvocation: { target: 'Heartbeat', intervalMs: 120_000 },
})
export class NotificationsHubGateway
  extends HubSessions<HubIdentity>
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  /** Set by Nest once the adapter created the server. */
  @WebSocketServer() server: SignalRServer | undefined;
  private stopControl: Unsubscribe | undefined;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(ROOT_LOGGER) logger: Logger,
    sessions: SessionsService,
    @Inject(CONTROL_BUS) private readonly control: ControlBus,
    metrics: Registry,
  ) {
    super(sessions, logger);
    const gauge: Gauge = new Gauge({
      name: 'herald_gateway_connections',
      help: 'Open SignalR connections on this gateway',
      registers: [metrics],
      collect: () => gauge.set(this.server?.connectionCount ?? 0),
    });
  }

  /** Open connections of one hub (`hub` or `anonymous-hub`). */
  connectionsOf(hub: string): number {
    return this.server?.connectionsOf(hub) ?? 0;
  }

  /** Connections closed since start for `reason`. */
  closedFor(reason: CloseReason): number {
    return this.server?.closedByReason.get(reason) ?? 0;
  }

  /**
   * Listens for cluster-wide disconnects, and answers other gateways asking whether a device's
   * previous connection is still open here (replay's resume point).
   */
  async onApplicationBootstrap(): Promise<void> {
    const [stopDisconnects, stopQueries] = await Promise.all([
      this.control.onDisconnectUser((userId, reason) => this.sessions.disconnectUser(userId, reason)),
      this.control.onConnectionQuery(this.config.HERALD_GATEWAY_ID, (connectionId) =>
        this.sessions.statusOf(connectionId),
      ),
    ]);
    this.stopControl = () => {
      stopDisconnects();
      stopQueries();
    };
  }

  /**
   * SIGTERM: stop accepting, record where every device stopped, then tell every client to
   * reconnect (to another gateway, which replays what it misses meanwhile) before NATS drains.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopControl?.();
    if (!this.server) return;
    this.server.stopAccepting();
    await this.sessions.drain(this.server.liveConnections());
    // The drain recorded that each device had everything up to a fresh watermark: true once the
    // client read it, which it shows by answering the closing handshake. One that does not in
    // time is recorded as an ordinary close would be (up to its last sign of life) before its
    // socket is dropped, so a later reconnect replays what it may not have read. Waiting here
    // also keeps the process alive until the frames are out: exiting with unread data pending
    // resets the connections, and a reset makes the client drop what it had not read yet.
    const unconfirmed = await this.server.shutdown(CloseReason.ServerShutdown, true);
    await this.sessions.rewind(unconfirmed);
    for (const connection of unconfirmed) connection.terminate();
  }
}
