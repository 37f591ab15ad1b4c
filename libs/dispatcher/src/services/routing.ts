import {
  type AnyHeraldEvent,
  ClientType,
  type Delivery,
  type DeliveryKind,
  HubMethod,
  HubName,
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
 * Bitwarden's routing rules (PROTOCOL.md §4): which groups an event goes to. Pure; the payload
 * was validated when the event entered Herald, so the ids it reads are present and lowercase.
 */
export function targetsOf(event: AnyHeraldEvent): Target[] {
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
  const anonymous = event.type === PushType.AuthRequestResponse;
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
