import { type HubConnection } from '@herald/signalr';

import { type ConnectionIdentity, type HubIdentity } from './hub-identity';

/** A connection of one of this gateway's hubs. */
export type GatewayConnection = HubConnection<ConnectionIdentity>;

/** A `/hub` connection: a signed-in user, with a vault to sync. */
export type UserConnection = HubConnection<HubIdentity>;

/** A `/hub` connection whose token names a device: it has a resume point and gets replays. */
export type DeviceConnection = UserConnection & { identity: HubIdentity & { deviceIdentifier: string } };

export function isUserConnection(connection: GatewayConnection): connection is UserConnection {
  return connection.identity.kind === 'user';
}

export function isDeviceConnection(connection: GatewayConnection): connection is DeviceConnection {
  return connection.identity.kind === 'user' && connection.identity.deviceIdentifier !== null;
}

/** The server hands out connections of any hub; these carry one of this gateway's identities. */
export function isGatewayConnection(connection: HubConnection<unknown>): connection is GatewayConnection {
  const identity = connection.identity;
  if (typeof identity !== 'object' || identity === null || !('kind' in identity)) return false;
  return identity.kind === 'user' || identity.kind === 'anonymous';
}
