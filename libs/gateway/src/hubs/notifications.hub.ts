import { type IncomingMessage, type Server } from 'node:http';

import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';

import { assertHubPolicy, AuthError, extractAccessToken, TokenVerifier } from '@herald/auth';
import { isGuid } from '@herald/contracts';
import { CONTROL_BUS, type ControlBus, type Unsubscribe } from '@herald/messaging';
import { ROOT_LOGGER, type Logger } from '@herald/platform';
import { type AuthorizeResult, CloseReason, SignalRServer } from '@herald/signalr';

import { GATEWAY_CONFIG } from '../gateway.tokens';
import { type GatewayConfig } from '../config/gateway.config';
import { ClientAddressResolver } from '../services/client-address';
import { ConnectionLimits, type Limit } from '../services/connection-limits';
import { SessionsService } from '../services/sessions.service';
import { type GatewayConnection } from '../services/gateway-connection';
import {
  type AnonymousIdentity,
  type ConnectionIdentity,
  type HubIdentity,
  hubIdentityFromClaims,
} from '../services/hub-identity';

/**
 * The two Bitwarden hubs on one SignalR server: `/hub` for signed-in clients and `/anonymous-hub`
 * for login with device, each also under `/notifications`. Authentication happens before the
 * upgrade; a connection's groups are joined (and subscribed) before its handshake is answered.
 */
@Injectable()
export class NotificationsHub implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private stopControl: Unsubscribe | undefined;
  private readonly limits = new ConnectionLimits();
  private readonly addresses: ClientAddressResolver;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    private readonly verifier: TokenVerifier,
    private readonly sessions: SessionsService,
    @Inject(CONTROL_BUS) private readonly control: ControlBus,
    private readonly server: SignalRServer,
    metrics: Registry,
  ) {
    this.addresses = new ClientAddressResolver(config.HERALD_TRUSTED_PROXIES);
    this.server.addHub<HubIdentity>({
      name: 'hub',
      paths: ['/hub', '/notifications/hub'],
      authorize: (request) => this.authorizeUser(request),
      onConnected: (connection) => this.connected(connection),
      onReady: (connection) => void this.sessions.ready(connection),
      onDisconnected: (connection) => this.sessions.closed(connection),
      // Bitwarden's hub invokes `Heartbeat` on every connection every two minutes.
      periodicInvocation: { target: 'Heartbeat', intervalMs: 120_000 },
    });
    this.server.addHub<AnonymousIdentity>({
      name: 'anonymous-hub',
      paths: ['/anonymous-hub', '/notifications/anonymous-hub'],
      authorize: (request, url) => Promise.resolve(this.authorizeAnonymous(request, url)),
      onConnected: (connection) => this.connected(connection),
      onReady: (connection) => void this.sessions.ready(connection),
      onDisconnected: (connection) => this.sessions.closed(connection),
    });
    const gauge: Gauge = new Gauge({
      name: 'herald_gateway_connections',
      help: 'Open SignalR connections on this gateway',
      registers: [metrics],
      collect: () => gauge.set(this.server.connectionCount),
    });
  }

  attach(httpServer: Server): void {
    this.server.attach(httpServer);
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
    this.server.stopAccepting();
    await this.sessions.drain(this.server.liveConnections());
    this.server.shutdown(CloseReason.ServerShutdown, true);
  }

  private async authorizeUser(request: IncomingMessage): Promise<AuthorizeResult<HubIdentity>> {
    const token = extractAccessToken(request.headers, request.url ?? '');
    if (!token) {
      return { accept: false, status: 401, reason: 'missing access token' };
    }
    let identity: HubIdentity | undefined;
    try {
      const claims = await this.verifier.verify(token);
      assertHubPolicy(claims);
      identity = hubIdentityFromClaims(claims);
    } catch (error) {
      if (error instanceof AuthError) {
        return { accept: false, status: 401, reason: error.reason };
      }
      throw error;
    }
    if (!identity) {
      return { accept: false, status: 401, reason: 'token subject is not a user id' };
    }
    const address = this.clientAddress(request);
    return this.admit(identity, [
      { key: `ip:${address}`, max: this.config.HERALD_CONNECTIONS_PER_IP },
      { key: `user:${identity.userId}`, max: this.config.HERALD_CONNECTIONS_PER_USER },
    ]);
  }

  private authorizeAnonymous(request: IncomingMessage, url: URL): AuthorizeResult<AnonymousIdentity> {
    // Real clients send `Token`; any letter case is accepted.
    const entry = [...url.searchParams].find(([key]) => key.toLowerCase() === 'token');
    if (!entry || !isGuid(entry[1])) {
      return { accept: false, status: 400, reason: 'Token must be an auth request id (GUID)' };
    }
    const address = this.clientAddress(request);
    return this.admit({ kind: 'anonymous', token: entry[1].toLowerCase(), clientType: 0 }, [
      { key: `ip:${address}`, max: this.config.HERALD_CONNECTIONS_PER_IP },
      { key: `anonymous-ip:${address}`, max: this.config.HERALD_ANONYMOUS_CONNECTIONS_PER_IP },
    ]);
  }

  /** Reserves a place under every limit, or refuses with 429 naming the limit that is full. */
  private admit<T extends ConnectionIdentity>(identity: T, limits: Limit[]): AuthorizeResult<T> {
    const admission = this.limits.tryAcquire(limits);
    if ('full' in admission) {
      return {
        accept: false,
        status: 429,
        reason: `connection limit reached (${admission.full.key.split(':')[0]})`,
      };
    }
    return { accept: true, identity, release: admission.release };
  }

  private clientAddress(request: IncomingMessage): string {
    return this.addresses.resolve(request.socket.remoteAddress, request.headers['x-forwarded-for']);
  }

  private async connected(connection: GatewayConnection): Promise<void> {
    await this.sessions.opened(connection);
    this.logger.debug(
      {
        connectionId: connection.id,
        hub: connection.hub,
        userId: userOf(connection),
        protocol: connection.protocol?.name,
      },
      'connection opened',
    );
  }
}

function userOf(connection: GatewayConnection): string | undefined {
  return connection.identity.kind === 'user' ? connection.identity.userId : undefined;
}
