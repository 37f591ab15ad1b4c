import { describe, expect, it } from '@jest/globals';

import {
  type AnyHeraldEvent,
  ClientType,
  type DeliveryKind,
  HubMethod,
  HubName,
  PUSH_TYPES,
  PushType,
  parseSendRequest,
} from '@herald/contracts';

import { pushJobsOf, route, targetsOf, unroutableReason } from './routing';

// Uppercase on purpose: payloads are normalised at ingress, so routing sees (and emits) lowercase ids.
const USER = '4C6B3F0E-94AB-4D7B-8E51-AB1200C0FFEE';
const OTHER_USER = '9B2E4C1A-0D3F-4E5A-8B6C-7D8E9F0A1B2C';
const ORG = '6A1D9C2B-0C8E-4D55-9F3E-B0A100000001';
const INSTALLATION = 'D3B07384-D9A0-4C1F-8E2A-B0A100000002';
const ITEM = '0F8E2B1C-7D3A-4B5E-9C6F-1A2B3C4D5E6F';
const PROVIDER = '1A2B3C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D';
const DATE = '2024-05-01T12:34:56.1234567Z';
const ACCEPTED_AT = new Date('2024-05-01T12:35:00.250Z');
const CONTEXT = 'e2b0c44f-1c8a-4f5b-9d3e-000000000abc';

const lower = (id: string) => id.toLowerCase();

/** An event built the way `/send` builds it, so the payload is normalised like production. */
function event(type: PushType, payload: Record<string, unknown>, contextId: string | null = CONTEXT) {
  const request = parseSendRequest({ type, payload, contextId });
  return {
    id: `event-${type}`,
    type: request.type,
    payload: request.payload,
    contextId: request.contextId,
    acceptedAt: ACCEPTED_AT,
  } as unknown as AnyHeraldEvent;
}

interface ExpectedTarget {
  kind: DeliveryKind;
  id: string;
  clientType?: ClientType;
}

interface RoutingCase {
  name: string;
  type: PushType;
  payload: Record<string, unknown>;
  targets: ExpectedTarget[];
}

const CIPHER_TYPES = [
  PushType.SyncCipherUpdate,
  PushType.SyncCipherCreate,
  PushType.SyncLoginDelete,
  PushType.SyncCipherDelete,
];
const ITEM_TYPES = [
  PushType.SyncFolderDelete,
  PushType.SyncFolderCreate,
  PushType.SyncFolderUpdate,
  PushType.SyncSendCreate,
  PushType.SyncSendUpdate,
  PushType.SyncSendDelete,
];
const USER_DATE_TYPES = [
  PushType.SyncCiphers,
  PushType.SyncVault,
  PushType.SyncOrgKeys,
  PushType.SyncSettings,
  PushType.SyncOrganizations,
  PushType.RefreshSecurityTasks,
];
const NOTIFICATION_TYPES = [PushType.Notification, PushType.NotificationStatus];

const user = (id = USER): ExpectedTarget => ({ kind: 'user', id: lower(id) });
const org = (id = ORG): ExpectedTarget => ({ kind: 'org', id: lower(id) });

function notification(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    Id: ITEM,
    Priority: 2,
    Global: false,
    ClientType: ClientType.All,
    CreationDate: DATE,
    RevisionDate: DATE,
    ...fields,
  };
}

const CASES: RoutingCase[] = [
  ...CIPHER_TYPES.flatMap((type): RoutingCase[] => [
    {
      name: 'with UserId and OrganizationId goes to the user',
      type,
      payload: { Id: ITEM, UserId: USER, OrganizationId: ORG, CollectionIds: [ITEM], RevisionDate: DATE },
      targets: [user()],
    },
    {
      name: 'with only UserId goes to the user',
      type,
      payload: { id: ITEM, userId: USER, organizationId: null, revisionDate: DATE },
      targets: [user()],
    },
    {
      name: 'with only OrganizationId goes to the organization',
      type,
      payload: { id: ITEM, userId: null, organizationId: ORG, collectionIds: [ITEM], revisionDate: DATE },
      targets: [org()],
    },
    {
      name: 'with neither goes nowhere',
      type,
      payload: { Id: ITEM, RevisionDate: DATE },
      targets: [],
    },
  ]),
  ...ITEM_TYPES.map((type) => ({
    name: 'goes to the user',
    type,
    payload: { Id: ITEM, UserId: USER, RevisionDate: DATE },
    targets: [user()],
  })),
  ...USER_DATE_TYPES.map((type) => ({
    name: 'goes to the user',
    type,
    payload: { UserId: USER, Date: DATE },
    targets: [user()],
  })),
  {
    name: 'goes to the user',
    type: PushType.LogOut,
    payload: { UserId: USER, Reason: 1 },
    targets: [user()],
  },
  {
    name: 'goes to the user',
    type: PushType.AuthRequest,
    payload: { Id: ITEM, UserId: USER },
    targets: [user()],
  },
  {
    name: 'goes to the anonymous connections watching the request id',
    type: PushType.AuthRequestResponse,
    payload: { Id: ITEM, UserId: USER },
    targets: [{ kind: 'anon', id: lower(ITEM) }],
  },
  {
    name: 'goes to the organization',
    type: PushType.SyncOrganizationStatusChanged,
    payload: { OrganizationId: ORG, Enabled: true },
    targets: [org()],
  },
  {
    name: 'goes to the organization',
    type: PushType.SyncOrganizationCollectionSettingChanged,
    payload: {
      OrganizationId: ORG,
      LimitCollectionCreation: true,
      LimitCollectionDeletion: false,
      LimitItemDeletion: true,
    },
    targets: [org()],
  },
  ...NOTIFICATION_TYPES.flatMap((type): RoutingCase[] => [
    {
      name: 'prefers InstallationId over UserId and OrganizationId',
      type,
      payload: notification({
        InstallationId: INSTALLATION,
        UserId: USER,
        OrganizationId: ORG,
        ClientType: ClientType.Mobile,
      }),
      targets: [{ kind: 'installation', id: lower(INSTALLATION), clientType: ClientType.Mobile }],
    },
    {
      name: 'prefers UserId over OrganizationId',
      type,
      payload: notification({ UserId: USER, OrganizationId: ORG, ClientType: ClientType.Browser }),
      targets: [{ ...user(), clientType: ClientType.Browser }],
    },
    {
      name: 'goes to the user for every client type when ClientType is All',
      type,
      payload: notification({ UserId: USER, InstallationId: null, ClientType: ClientType.All }),
      targets: [{ ...user(), clientType: ClientType.All }],
    },
    {
      name: 'falls back to OrganizationId',
      type,
      payload: notification({ OrganizationId: ORG, ClientType: ClientType.Desktop }),
      targets: [{ ...org(), clientType: ClientType.Desktop }],
    },
    {
      name: 'with no target id goes nowhere',
      type,
      payload: notification({ Global: true, ClientType: ClientType.Web }),
      targets: [],
    },
  ]),
  {
    name: 'goes to the organization',
    type: PushType.OrganizationBankAccountVerified,
    payload: { OrganizationId: ORG },
    targets: [org()],
  },
  {
    name: 'goes to the provider admin',
    type: PushType.ProviderBankAccountVerified,
    payload: { ProviderId: PROVIDER, AdminId: OTHER_USER },
    targets: [user(OTHER_USER)],
  },
  {
    name: 'goes to the organization',
    type: PushType.PolicyChanged,
    payload: {
      OrganizationId: ORG,
      Policy: {
        Id: ITEM,
        OrganizationId: ORG,
        Type: 0,
        Data: null,
        Enabled: true,
        CreationDate: DATE,
        RevisionDate: DATE,
      },
    },
    targets: [org()],
  },
  {
    name: 'goes to UserId, not to the organization or the target user',
    type: PushType.AutoConfirm,
    payload: {
      UserId: USER,
      OrganizationId: ORG,
      TargetUserId: OTHER_USER,
      TargetOrganizationUserId: ITEM,
    },
    targets: [user()],
  },
  {
    name: 'goes to the user',
    type: PushType.PremiumStatusChanged,
    payload: { UserId: USER, Premium: true },
    targets: [user()],
  },
];

describe('targetsOf (PROTOCOL.md §4)', () => {
  it('has a case for every push type', () => {
    expect([...new Set(CASES.map((entry) => entry.type))].sort((a, b) => a - b)).toEqual([...PUSH_TYPES]);
  });

  it.each(CASES.map((entry) => [`${PushType[entry.type]} (${entry.type}) ${entry.name}`, entry] as const))(
    '%s',
    (_name, entry) => {
      const expected = entry.targets.map((target) => ({
        kind: target.kind,
        id: target.id,
        clientType: target.clientType ?? ClientType.All,
      }));
      expect(targetsOf(event(entry.type, entry.payload))).toEqual(expected);
    },
  );
});

describe('route', () => {
  it.each(CASES.map((entry) => [`${PushType[entry.type]} (${entry.type}) ${entry.name}`, entry] as const))(
    '%s: one delivery per target with the event as the message',
    (_name, entry) => {
      const built = event(entry.type, entry.payload);
      const anonymous = entry.type === PushType.AuthRequestResponse;
      expect(route(built, 42)).toEqual(
        entry.targets.map((target) => ({
          kind: target.kind,
          id: target.id,
          delivery: {
            eventId: built.id,
            hub: anonymous ? 'anonymous-hub' : 'hub',
            method: anonymous ? 'AuthRequestResponseRecieved' : 'ReceiveMessage',
            clientType: target.clientType ?? ClientType.All,
            message: { ContextId: CONTEXT, Type: entry.type, Payload: built.payload },
            acceptedAt: ACCEPTED_AT.getTime(),
            eventSequence: 42,
          },
        })),
      );
    },
  );

  it('sends AuthRequestResponse to the anonymous hub with Bitwarden’s misspelt method', () => {
    const delivery = route(event(PushType.AuthRequestResponse, { Id: ITEM, UserId: USER }))[0]!;
    expect(delivery.kind).toBe('anon');
    expect(delivery.id).toBe(lower(ITEM));
    expect(delivery.delivery.hub).toBe(HubName.Anonymous);
    expect(delivery.delivery.hub).toBe('anonymous-hub');
    expect(delivery.delivery.method).toBe(HubMethod.AuthRequestResponseReceived);
    expect(delivery.delivery.method).toBe('AuthRequestResponseRecieved');
  });

  it('carries the normalised payload (PascalCase, lowercase ids, dates, unknown fields kept)', () => {
    const built = event(
      PushType.SyncCiphers,
      { userId: USER, date: '2024-05-01T12:34:56', extraField: 'kept' },
      null,
    );
    const delivery = route(built)[0]!;
    expect(delivery.delivery.message).toEqual({
      ContextId: null,
      Type: PushType.SyncCiphers,
      Payload: { UserId: lower(USER), Date: new Date('2024-05-01T12:34:56Z'), ExtraField: 'kept' },
    });
    expect(Object.keys(delivery.delivery.message)).toEqual(['ContextId', 'Type', 'Payload']);
  });

  it('stamps acceptedAt as the event’s ms timestamp', () => {
    const built = { ...event(PushType.SyncVault, { UserId: USER, Date: DATE }), acceptedAt: new Date(1_234) };
    expect(route(built)[0]!.delivery.acceptedAt).toBe(1_234);
  });
});

/** An event with whatever `/send` body it is given (recipients, unknown types), built as `/send` builds it. */
function sent(body: Record<string, unknown>): AnyHeraldEvent {
  return { id: 'event-sent', ...parseSendRequest(body), acceptedAt: ACCEPTED_AT };
}

describe('explicit recipients (a Herald extension)', () => {
  const orgCipher = {
    type: PushType.SyncCipherUpdate,
    payload: { Id: ITEM, UserId: null, OrganizationId: ORG, RevisionDate: DATE },
    contextId: CONTEXT,
    recipients: { users: [USER, OTHER_USER] },
  };

  it('replace the rule: one user target per listed user, not the organization', () => {
    expect(targetsOf(sent(orgCipher))).toEqual([
      { kind: 'user', id: lower(USER), clientType: ClientType.All },
      { kind: 'user', id: lower(OTHER_USER), clientType: ClientType.All },
    ]);
  });

  it('replace the rule of a user type too (the payload’s UserId is not added)', () => {
    const built = sent({
      type: PushType.SyncVault,
      payload: { UserId: USER, Date: DATE },
      recipients: { users: [OTHER_USER] },
    });
    expect(targetsOf(built)).toEqual([{ kind: 'user', id: lower(OTHER_USER), clientType: ClientType.All }]);
  });

  it('forward the payload unchanged (UserId null, OrganizationId set) on the main hub', () => {
    const built = sent(orgCipher);
    const deliveries = route(built, 7);
    expect(deliveries.map((entry) => entry.delivery.message)).toEqual([
      { ContextId: CONTEXT, Type: PushType.SyncCipherUpdate, Payload: built.payload },
      { ContextId: CONTEXT, Type: PushType.SyncCipherUpdate, Payload: built.payload },
    ]);
    expect(deliveries[0]!.delivery.message.Payload).toMatchObject({
      UserId: null,
      OrganizationId: lower(ORG),
    });
    expect(deliveries.every((entry) => entry.delivery.hub === HubName.Main)).toBe(true);
  });

  it('make one push job per listed user, leaving out the device that made the change', () => {
    expect(pushJobsOf(sent(orgCipher))).toEqual(
      [USER, OTHER_USER].map((user) =>
        expect.objectContaining({
          jobId: `event-sent:push:user:${lower(user)}:0`,
          target: { kind: 'user', id: lower(user) },
          excludeIdentifier: CONTEXT,
          clientType: ClientType.All,
        }),
      ),
    );
  });
});

describe('types Herald does not know (28-255)', () => {
  const extra = { Inbox: { Pending: [1, 2] }, note: 'kept', RevisionDate: DATE };

  it('go to the user of Payload.UserId, with Type and payload unchanged', () => {
    const built = sent({ type: 28, payload: { userId: USER, ...extra }, contextId: null });
    const [delivery, ...rest] = route(built);
    expect(rest).toEqual([]);
    expect(delivery).toMatchObject({ kind: 'user', id: lower(USER) });
    expect(delivery!.delivery.message).toEqual({
      ContextId: null,
      Type: 28,
      Payload: { userId: USER, ...extra },
    });
    expect(unroutableReason(built)).toBeUndefined();
  });

  it('else to the organization of Payload.OrganizationId', () => {
    const built = sent({ type: 255, payload: { UserId: null, OrganizationId: ORG } });
    expect(targetsOf(built)).toEqual([{ kind: 'org', id: lower(ORG), clientType: ClientType.All }]);
    expect(pushJobsOf(built)).toEqual([
      expect.objectContaining({ type: 255, target: { kind: 'org', id: lower(ORG) } }),
    ]);
  });

  it('else to nobody, with the reason the dispatcher dead-letters it for', () => {
    const built = sent({ type: 28, payload: { Id: ITEM, TargetUserId: USER } });
    expect(route(built)).toEqual([]);
    expect(pushJobsOf(built)).toEqual([]);
    expect(unroutableReason(built)).toBe(
      'type 28 is unknown to Herald and its payload names neither UserId nor OrganizationId',
    );
  });

  it('follow explicit recipients when they are given', () => {
    const built = sent({ type: 29, payload: {}, recipients: { users: [USER] } });
    expect(targetsOf(built)).toEqual([{ kind: 'user', id: lower(USER), clientType: ClientType.All }]);
    expect(unroutableReason(built)).toBeUndefined();
  });

  it('a known type with no target is not dead-lettered (Bitwarden drops it too)', () => {
    expect(unroutableReason(sent({ type: 0, payload: { Id: ITEM, RevisionDate: DATE } }))).toBeUndefined();
  });
});
