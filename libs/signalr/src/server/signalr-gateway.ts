import { type IncomingMessage } from 'node:http';

import { type Type } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import { GATEWAY_OPTIONS } from '@nestjs/websockets/constants';

import { type HubConnection } from './hub-connection';
import { type AuthorizeResult, type HubDefinition } from './hub-definition';

/** Decides on an upgrade request before it is upgraded; a refusal is answered with its status. */
export interface UpgradeAuthorizer<TIdentity> {
  authorize(request: IncomingMessage, url: URL): Promise<AuthorizeResult<TIdentity>>;
}

/**
 * What a `@WebSocketGateway` served by `SignalRAdapter` declares in its decorator options.
 * `path` lists every request path (without query) that upgrades to this hub.
 */
export interface SignalRGatewayOptions {
  /** The hub's name, in logs and metrics. */
  hub: string;
  path: string[];
  /** The provider (resolved from the application) that authorizes this hub's upgrades and negotiations. */
  authorizer: Type<UpgradeAuthorizer<unknown>>;
  /** An invocation without arguments sent to every connection at this interval. */
  periodicInvocation?: { target: string; intervalMs: number };
}

/**
 * The hooks of a gateway served by `SignalRAdapter`. `handleConnection` runs after a valid
 * handshake and before its reply: the client is not told it is connected until the returned
 * promise resolves, and a rejection refuses the handshake. `handleReady` runs once the reply went
 * out. `handleDisconnect` runs once per connection whose `handleConnection` resolved.
 */
export interface SignalRGateway<TIdentity = unknown>
  extends OnGatewayConnection<HubConnection<TIdentity>>, OnGatewayDisconnect<HubConnection<TIdentity>> {
  handleConnection(connection: HubConnection<TIdentity>): Promise<void>;
  handleReady?(connection: HubConnection<TIdentity>): void;
  handleDisconnect(connection: HubConnection<TIdentity>): void;
}

/** The hub a gateway and its authorizer make, as `SignalRServer` serves it. */
export function hubOfGateway<TIdentity>(
  options: SignalRGatewayOptions,
  gateway: SignalRGateway<TIdentity>,
  authorizer: UpgradeAuthorizer<TIdentity>,
): HubDefinition<TIdentity> {
  return {
    name: options.hub,
    paths: options.path,
    authorize: (request, url) => authorizer.authorize(request, url),
    onConnected: (connection) => gateway.handleConnection(connection),
    onReady: (connection) => gateway.handleReady?.(connection),
    onDisconnected: (connection) => gateway.handleDisconnect(connection),
    ...(options.periodicInvocation ? { periodicInvocation: options.periodicInvocation } : {}),
  };
}

/** The options a gateway class was decorated with, if it is a SignalR gateway. */
export function signalRGatewayOptionsOf(type: object): SignalRGatewayOptions | undefined {
  const options = Reflect.getMetadata(GATEWAY_OPTIONS, type) as Partial<SignalRGatewayOptions> | undefined;
  return options?.hub && options.authorizer && Array.isArray(options.path)
    ? (options as SignalRGatewayOptions)
    : undefined;
}
