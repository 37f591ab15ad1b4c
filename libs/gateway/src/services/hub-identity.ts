import { clientTypeOf, type ClientType, type DeliveryKind, isGuid, parseDeviceType } from '@herald/contracts';
import { type VerifiedClaims } from '@herald/auth';

/** Who is on a `/hub` connection, fixed at connect (clients reconnect to pick up new organizations). */
export interface HubIdentity {
  kind: 'user';
  userId: string;
  /** The `device` claim: what ContextId carries, and the device half of replay's resume point. */
  deviceIdentifier: string | null;
  clientType: ClientType;
  organizationIds: string[];
}

/** Who waits on an `/anonymous-hub` connection: the auth-request id it watches. */
export interface AnonymousIdentity {
  kind: 'anonymous';
  token: string;
  clientType: 0;
}

export type ConnectionIdentity = HubIdentity | AnonymousIdentity;

export interface GroupKey {
  kind: DeliveryKind;
  id: string;
}

/** Undefined when the token names no usable user (`sub` must be a GUID). */
export function hubIdentityFromClaims(claims: VerifiedClaims): HubIdentity | undefined {
  if (!isGuid(claims.sub)) {
    return undefined;
  }
  // Lowercase before deduplicating: the same organization in two letter cases is one group.
  const organizationIds = new Set(
    [...claims.orgowner, ...claims.orgadmin, ...claims.orguser, ...claims.orgcustom]
      .filter(isGuid)
      .map((id) => id.toLowerCase()),
  );
  return {
    kind: 'user',
    userId: claims.sub.toLowerCase(),
    deviceIdentifier: claims.device ?? null,
    clientType: clientTypeOf(parseDeviceType(claims.devicetype)),
    organizationIds: [...organizationIds],
  };
}

/**
 * The delivery subjects a connection needs (PROTOCOL.md §5). Client-type groups are not separate
 * subjects: each delivery names its client type and the gateway filters on it.
 */
export function groupsOf(identity: ConnectionIdentity, installationId: string | undefined): GroupKey[] {
  if (identity.kind === 'anonymous') {
    return [{ kind: 'anon', id: identity.token }];
  }
  const groups: GroupKey[] = [{ kind: 'user', id: identity.userId }];
  for (const organizationId of identity.organizationIds) {
    groups.push({ kind: 'org', id: organizationId });
  }
  if (installationId) {
    groups.push({ kind: 'installation', id: installationId });
  }
  return groups;
}
