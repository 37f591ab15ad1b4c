import { Inject } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';

import { type Logger, ROOT_LOGGER } from '@herald/platform';
import { type SignalRGatewayOptions } from '@herald/signalr';

import { SessionsService } from '../services/sessions.service';
import { type AnonymousIdentity } from '../services/hub-identity';
import { AnonymousHubAuthorizer } from './hub.authorizers';
import { HubSessions } from './hub-sessions';

/** Login with device: `/anonymous-hub` (and under `/notifications`), keyed by auth-request id. */
@WebSocketGateway<SignalRGatewayOptions>({
  hub: 'anonymous-hub',
  path: ['/anonymous-hub', '/notifications/anonymous-hub'],
  authorizer: AnonymousHubAuthorizer,
})
export class AnonymousHubGateway extends HubSessions<AnonymousIdentity> {
  constructor(sessions: SessionsService, @Inject(ROOT_LOGGER) logger: Logger) {
    super(sessions, logger);
  }
}
