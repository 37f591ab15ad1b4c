import { type Logger } from '@herald/platform';
import { type SignalRGateway } from '@herald/signalr';

import { type GatewayConnection } from '../services/gateway-connection';
import { type ConnectionIdentity } from '../services/hub-identity';
import { type SessionsService } from '../services/sessions.service';

/**
 * What both hubs do with a connection: its groups are joined (and subscribed) before the
 * handshake is answered, a device is replayed what it missed once it is, and it leaves its groups
 * when it is gone.
 */
export abstract class HubSessions<TIdentity extends ConnectionIdentity> implements SignalRGateway<TIdentity> {
  protected constructor(
    protected readonly sessions: SessionsService,
    protected readonly logger: Logger,
  ) {}

  async handleConnection(connection: GatewayConnection & { identity: TIdentity }): Promise<void> {
    await this.sessions.opened(connection);
    this.logger.debug(
      {
        connectionId: connection.id,
        hub: connection.hub,
        userId: connection.identity.kind === 'user' ? connection.identity.userId : undefined,
        protocol: connection.protocol?.name,
      },
      'connection opened',
    );
  }

  handleReady(connection: GatewayConnection): void {
    void this.sessions.ready(connection);
  }

  handleDisconnect(connection: GatewayConnection): void {
    this.sessions.closed(connection);
  }
}
