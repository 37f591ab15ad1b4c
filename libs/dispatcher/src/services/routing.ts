import {
  type AnyHeraldEvent,
  ClientType,
  type Delivery,
  type DeliveryKind,
  HubMethod,
  HubName,
  isKnownEvent,
  isGuid,
  type KnownHeraldEvent,
  type NotificationPayload,
  type PushJob,
  type PushTargetKind,
  PushType,
} from '@herald/contracts';

/** One delivery and the subject it goes to. */
export interface RoutedDelivery {
  kind: DeliveryKind;
  id: string;
  delivery: Delivery;
}

interface Target {
  kind: DeliveryKind;
  id: string;
  clientType: ClientType;
}

const USER_TYPES = new Set<PushType>([
  PushType.SyncFolderDelete,
  PushType.SyncCiphers,
  PushType.SyncVault,
  PushType.SyncOrgKeys,
  PushType.SyncFolderCreate,
  PushType.SyncFolderUpdate,
  PushType.SyncSettings,
  PushType.LogOut,
  PushType.SyncSendCreate,
  PushType.SyncSendUpdate,
  PushType.SyncSendDelete,
  PushType.AuthRequest,
  PushType.SyncOrganizations,
  PushType.RefreshSecurityTasks,
  PushType.AutoConfirm,
  PushType.PremiumStatusChanged,
]);

const CIPHER_TYPES = new Set<PushType>([
  PushType.SyncCipherUpdate,
  PushType.SyncCipherCreate,
  PushType.SyncLoginDelete,
  PushType.SyncCipherDelete,
]);

const ORGANIZATION_TYPES = new Set<PushType>([
  PushType.SyncOrganizationStatusChanged,
  PushType.SyncOrganizationCollectionSettingChanged,
  PushType.OrganizationBankAccountVerified,
  PushType.PolicyChanged,
]);

/**
 * Which groups an event goes to (docs/routing.md). Pure. Explicit recipients (a Herald extension)
 * replace the rule: one user target per listed user, whatever the type. Otherwise a known type
 * goes by Bitwarden's rule (PROTOCOL.md §4) and an unknown one by its `UserId`, else its
 * `OrganizationId`, else to nobody (the dispatcher dead-letters it, see `unroutableReason`).
 */
export function targetsOf(event: AnyHeraldEvent): Target[] {
  if (event.recipients) {
    return event.recipients.users.map((id) => ({ kind: 'user', id, clientType: ClientType.All }));
  }
  return isKnownEvent(event) ? ruleTargets(event) : unknownTypeTargets(event.payload);
}

/**
 * Why an event that reaches nobody is dead-lettered rather than acknowledged, or undefined. Only an
 * unknown type without ids says so: a known type with no target (a cipher event naming neither a
 * user nor an organization) is Bitwarden's own rule and is acknowledged, as Bitwarden drops it.
 */
export function unroutableReason(event: AnyHeraldEvent): string | undefined {
  if (event.recipients || isKnownEvent(event) || unknownTypeTargets(event.payload).length > 0) {
    return undefined;
  }
  return `type ${event.type} is unknown to Herald and its payload names neither UserId nor OrganizationId`;
}

/** An unknown type's payload is kept as given, so its ids are read in any letter case. */
function unknownTypeTargets(payload: Record<string, unknown>): Target[] {
  const id = (name: string) => {
    const key = Object.keys(payload).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
    const value = key === undefined ? undefined : payload[key];
    return isGuid(value) ? value.toLowerCase() : undefined;
  };
  const userId = id('UserId');
  if (userId) return [{ kind: 'user', id: userId, clientType: ClientType.All }];
  const organizationId = id('OrganizationId');
  return organizationId ? [{ kind: 'org', id: organizationId, clientType: ClientType.All }] : [];
}

/**
 * Bitwarden's routing rules (PROTOCOL.md §4). The payload was validated when the event entered
 * Herald, so the ids it reads are present and lowercase.
 */
function ruleTargets(event: KnownHeraldEvent): Target[] {
  const everyone = ClientType.All;
  const payload = event.payload as unknown as Record<string, unknown>;
  const id = (name: string) => (typeof payload[name] === 'string' ? payload[name] : undefined);
  if (USER_TYPES.has(event.type)) {
    return [{ kind: 'user', id: id('UserId')!, clientType: everyone }];
  }
  if (CIPHER_TYPES.has(event.type)) {
    const userId = id('UserId');
    if (userId) return [{ kind: 'user', id: userId, clientType: everyone }];
    const organizationId = id('OrganizationId');
    return organizationId ? [{ kind: 'org', id: organizationId, clientType: everyone }] : [];
  }
  if (ORGANIZATION_TYPES.has(event.type)) {
    return [{ kind: 'org', id: id('OrganizationId')!, clientType: everyone }];
  }
  switch (event.type) {
    case PushType.AuthRequestResponse:
      return [{ kind: 'anon', id: event.payload.Id, clientType: everyone }];
    case PushType.ProviderBankAccountVerified:
      return [{ kind: 'user', id: event.payload.AdminId, clientType: everyone }];
    case PushType.Notification:
    case PushType.NotificationStatus:
      return notificationTargets(event.payload);
    default:
      return [];
  }
}

/** Notification and NotificationStatus: the first of installation, user, organization that is set. */
function notificationTargets(payload: NotificationPayload): Target[] {
  const clientType = payload.ClientType;
  if (payload.InstallationId) return [{ kind: 'installation', id: payload.InstallationId, clientType }];
  if (payload.UserId) return [{ kind: 'user', id: payload.UserId, clientType }];
  if (payload.OrganizationId) return [{ kind: 'org', id: payload.OrganizationId, clientType }];
  return [];
}

/** The deliveries one event makes: the same message for every target group. */
export function route(event: AnyHeraldEvent, eventSequence = 0): RoutedDelivery[] {
  const anonymous = event.type === (PushType.AuthRequestResponse as number);
  return targetsOf(event).map((target) => ({
    kind: target.kind,
    id: target.id,
    delivery: {
      eventId: event.id,
      hub: anonymous ? HubName.Anonymous : HubName.Main,
      method: anonymous ? HubMethod.AuthRequestResponseReceived : HubMethod.ReceiveMessage,
      clientType: target.clientType,
      message: {
        ContextId: event.contextId,
        Type: event.type,
        Payload: event.payload as unknown as Record<string, unknown>,
      },
      acceptedAt: event.acceptedAt.getTime(),
      eventSequence,
    },
  }));
}

/**
 * The push jobs one event makes (mobile and web push): the hubs' targets, except that an
 * AuthRequestResponse goes to the requesting user's devices instead of the anonymous hub; the
 * device that caused the change is always left out.
 */
export function pushJobsOf(event: AnyHeraldEvent): PushJob[] {
  return targetsOf(event).flatMap((target): PushJob[] => {
    let kind: PushTargetKind;
    let id = target.id;
    if (target.kind === 'anon') {
      const userId = (event.payload as unknown as Record<string, unknown>).UserId;
      if (typeof userId !== 'string') return [];
      kind = 'user';
      id = userId;
    } else {
      kind = target.kind;
    }
    return [
      {
        jobId: `${event.id}:push:${kind}:${id}:${target.clientType}`,
        eventId: event.id,
        type: event.type,
        payload: event.payload as unknown as Record<string, unknown>,
        contextId: event.contextId,
        target: { kind, id },
        excludeIdentifier: event.contextId,
        clientType: target.clientType,
        acceptedAt: event.acceptedAt.getTime(),
      },
    ];
  });
}
