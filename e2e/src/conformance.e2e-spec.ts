import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  deleteNamespace,
  HubClient,
  type ReceivedInvocation,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
  upgradeStatus,
} from '@herald/testing';

/**
 * PROTOCOL.md §3–§6 end to end, one case per PushType and hub protocol: an event posted to `/send`
 * reaches exactly the connections the routing table names, in the documented shape, and no other.
 * "Nobody else" is proven with markers: every watched connection is sent a later event of its own,
 * and once each has its marker, nothing from before it can still be on the way.
 */

type Protocol = 'messagepack' | 'json';
type Dialect = 'camelCase' | 'PascalCase';
/** A payload as the test means it: PascalCase keys, lowercase GUIDs, dates as Date. */
type Value = string | number | boolean | null | Date | Value[] | { [key: string]: Value };
type Payload = Record<string, Value>;

interface ConnectOptions {
  protocol: Protocol;
  skipNegotiation: boolean;
}

/** A connection under watch, and how a marker reaches it. */
interface Peer {
  label: string;
  client: HubClient;
  protocol: Protocol;
  marker: { userId: string } | { token: string };
}

/** One event on `/send` and what a receiving connection must get for it. */
interface Posted {
  type: number;
  contextId: string;
  payload: Payload;
  /** The hub method; `ReceiveMessage` unless the event is for the anonymous hub. */
  target?: string;
}

// The installation this gateway serves: Notification/NotificationStatus with it reach everyone here.
const INSTALLATION_ID = '7d1c3a52-9b4e-4f0a-8c61-2e5d9f8a0b13';
const MARKER_PREFIX = 'marker:';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIMEOUT_MS = 30_000;
/** How long a connection that should receive the event is waited for before the markers go out. */
const DELIVERY_WAIT_MS = 5_000;

const contextOf = (invocation: ReceivedInvocation): unknown =>
  (invocation.args[0] as { ContextId?: unknown } | undefined)?.ContextId;

const date = (iso: string) => new Date(iso);

/** The body `/send` gets: Bitwarden's self-hosted camelCase (explicit nulls) or the cloud's PascalCase. */
function envelope(posted: Posted, dialect: Dialect): Record<string, unknown> {
  const payload = toWire(posted.payload, dialect);
  return dialect === 'camelCase'
    ? { type: posted.type, payload, contextId: posted.contextId }
    : { Type: posted.type, Payload: payload, ContextId: posted.contextId };
}

/**
 * JSON as a vault API writes it. The PascalCase dialect also writes GUIDs in capitals, so that the
 * test sees Herald send them out lowercase whatever came in.
 */
function toWire(value: Value, dialect: Dialect): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((entry) => toWire(entry, dialect));
  if (typeof value === 'string') {
    return dialect === 'PascalCase' && GUID.test(value) ? value.toUpperCase() : value;
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => [
        dialect === 'camelCase' ? key.charAt(0).toLowerCase() + key.slice(1) : key,
        toWire(entry, dialect),
      ]),
    );
  }
  return value;
}

/** What the @microsoft/signalr client hands over: MessagePack timestamps as Date, JSON dates as strings. */
function asReceived(value: Value, protocol: Protocol): unknown {
  if (value instanceof Date) return protocol === 'json' ? value.toISOString() : value;
  if (Array.isArray(value)) return value.map((entry) => asReceived(entry, protocol));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => [key, asReceived(entry, protocol)]),
    );
  }
  return value;
}

const dialectFor = (pascalCase: boolean): Dialect => (pascalCase ? 'PascalCase' : 'camelCase');

/** Optional fields the case leaves unset: explicit nulls in camelCase, omitted in PascalCase. */
function unset(payload: Payload, names: string[], dialect: Dialect): Payload {
  const result = { ...payload };
  for (const name of names) {
    if (dialect === 'camelCase') result[name] = null;
    else delete result[name];
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The PushType table (PROTOCOL.md §4)
// ---------------------------------------------------------------------------------------------

/** The people and organizations of one case; every id is fresh. */
interface Cast {
  userId: string;
  memberId: string;
  otherUserId: string;
  otherOrgMemberId: string;
  organizationId: string;
  otherOrganizationId: string;
  authRequestId: string;
}

function newCast(): Cast {
  return {
    userId: randomUUID(),
    memberId: randomUUID(),
    otherUserId: randomUUID(),
    otherOrgMemberId: randomUUID(),
    organizationId: randomUUID(),
    otherOrganizationId: randomUUID(),
    authRequestId: randomUUID(),
  };
}

/**
 * The connections of a table case. `user` and `userDesktop` are the user the payload names (a
 * Browser and a Desktop client), also in `organizationId`; `member` is another member of it;
 * `otherUser` has no organization; `otherOrgMember` is in another organization. Every one but
 * `userDesktop` is a Browser client (ChromeExtension). Type 16 adds anonymous-hub connections.
 */
type Role =
  | 'user'
  | 'userDesktop'
  | 'member'
  | 'otherUser'
  | 'otherOrgMember'
  | 'waiting'
  | 'alsoWaiting'
  | 'otherWaiting';

interface TypeCase {
  type: number;
  name: string;
  route: string;
  receivers: Role[];
  payload: (cast: Cast) => Payload;
}

const USER: Role[] = ['user', 'userDesktop'];
const ORGANIZATION: Role[] = ['user', 'userDesktop', 'member'];
// Every Browser connection of the installation, whoever the payload names.
const INSTALLATION_BROWSERS: Role[] = ['user', 'member', 'otherUser', 'otherOrgMember'];

const REVISION_DATE = date('2026-03-04T05:06:07.089Z');
const DATE = date('2026-03-04T05:06:08.123Z');
const CREATION_DATE = date('2026-02-01T00:00:00.001Z');
const READ_DATE = date('2026-03-05T10:00:00.500Z');
const DELETED_DATE = date('2026-03-06T11:12:13.014Z');

const cipher = (cast: Cast): Payload => ({
  Id: randomUUID(),
  UserId: cast.userId,
  OrganizationId: cast.organizationId,
  CollectionIds: [randomUUID(), randomUUID()],
  RevisionDate: REVISION_DATE,
});
const item = (cast: Cast): Payload => ({
  Id: randomUUID(),
  UserId: cast.userId,
  RevisionDate: REVISION_DATE,
});
const userDate = (cast: Cast): Payload => ({ UserId: cast.userId, Date: DATE });

/** Notification (20) with every field; NotificationStatus (21) adds ReadDate and DeletedDate. */
function notification(type: 20 | 21, fields: Payload): Payload {
  return {
    Id: randomUUID(),
    Priority: 3,
    Global: false,
    ClientType: 0,
    UserId: null,
    OrganizationId: null,
    InstallationId: null,
    TaskId: randomUUID(),
    Title: 'Task assigned',
    Body: 'Review the shared “Production” login',
    CreationDate: CREATION_DATE,
    RevisionDate: REVISION_DATE,
    ...(type === 21 ? { ReadDate: READ_DATE, DeletedDate: DELETED_DATE } : {}),
    ...fields,
  };
}

const CIPHER_ROUTE = 'user UserId only (not the members of OrganizationId)';
const USER_ROUTE = 'user UserId';
const ORGANIZATION_ROUTE = 'every member of OrganizationId';
const INSTALLATION_ROUTE =
  'InstallationId first: every Browser connection of the installation, not the user’s Desktop one';

const TYPE_CASES: TypeCase[] = [
  { type: 0, name: 'SyncCipherUpdate', route: CIPHER_ROUTE, receivers: USER, payload: cipher },
  { type: 1, name: 'SyncCipherCreate', route: CIPHER_ROUTE, receivers: USER, payload: cipher },
  { type: 2, name: 'SyncLoginDelete', route: CIPHER_ROUTE, receivers: USER, payload: cipher },
  { type: 3, name: 'SyncFolderDelete', route: USER_ROUTE, receivers: USER, payload: item },
  { type: 4, name: 'SyncCiphers', route: USER_ROUTE, receivers: USER, payload: userDate },
  { type: 5, name: 'SyncVault', route: USER_ROUTE, receivers: USER, payload: userDate },
  { type: 6, name: 'SyncOrgKeys', route: USER_ROUTE, receivers: USER, payload: userDate },
  { type: 7, name: 'SyncFolderCreate', route: USER_ROUTE, receivers: USER, payload: item },
  { type: 8, name: 'SyncFolderUpdate', route: USER_ROUTE, receivers: USER, payload: item },
  { type: 9, name: 'SyncCipherDelete', route: CIPHER_ROUTE, receivers: USER, payload: cipher },
  { type: 10, name: 'SyncSettings', route: USER_ROUTE, receivers: USER, payload: userDate },
  {
    type: 11,
    name: 'LogOut',
    route: USER_ROUTE,
    receivers: USER,
    payload: (cast) => ({ UserId: cast.userId, Reason: 1 }),
  },
  { type: 12, name: 'SyncSendCreate', route: USER_ROUTE, receivers: USER, payload: item },
  { type: 13, name: 'SyncSendUpdate', route: USER_ROUTE, receivers: USER, payload: item },
  { type: 14, name: 'SyncSendDelete', route: USER_ROUTE, receivers: USER, payload: item },
  {
    type: 15,
    name: 'AuthRequest',
    route: USER_ROUTE,
    receivers: USER,
    payload: (cast) => ({ Id: cast.authRequestId, UserId: cast.userId }),
  },
  {
    type: 16,
    name: 'AuthRequestResponse',
    route: 'anonymous-hub connections whose Token is Id, not the user’s /hub connections',
    receivers: ['waiting', 'alsoWaiting'],
    payload: (cast) => ({ Id: cast.authRequestId, UserId: cast.userId }),
  },
  { type: 17, name: 'SyncOrganizations', route: USER_ROUTE, receivers: USER, payload: userDate },
  {
    type: 18,
    name: 'SyncOrganizationStatusChanged',
    route: ORGANIZATION_ROUTE,
    receivers: ORGANIZATION,
    payload: (cast) => ({ OrganizationId: cast.organizationId, Enabled: false }),
  },
  {
    type: 19,
    name: 'SyncOrganizationCollectionSettingChanged',
    route: ORGANIZATION_ROUTE,
    receivers: ORGANIZATION,
    payload: (cast) => ({
      OrganizationId: cast.organizationId,
      LimitCollectionCreation: true,
      LimitCollectionDeletion: false,
      LimitItemDeletion: true,
    }),
  },
  {
    type: 20,
    name: 'Notification',
    route: INSTALLATION_ROUTE,
    receivers: INSTALLATION_BROWSERS,
    payload: (cast) =>
      notification(20, {
        ClientType: 2,
        UserId: cast.userId,
        OrganizationId: cast.organizationId,
        InstallationId: INSTALLATION_ID,
      }),
  },
  {
    type: 21,
    name: 'NotificationStatus',
    route: INSTALLATION_ROUTE,
    receivers: INSTALLATION_BROWSERS,
    payload: (cast) =>
      notification(21, {
        ClientType: 2,
        UserId: cast.userId,
        OrganizationId: cast.organizationId,
        InstallationId: INSTALLATION_ID,
      }),
  },
  { type: 22, name: 'RefreshSecurityTasks', route: USER_ROUTE, receivers: USER, payload: userDate },
  {
    type: 23,
    name: 'OrganizationBankAccountVerified',
    route: ORGANIZATION_ROUTE,
    receivers: ORGANIZATION,
    payload: (cast) => ({ OrganizationId: cast.organizationId }),
  },
  {
    type: 24,
    name: 'ProviderBankAccountVerified',
    route: 'user AdminId',
    receivers: USER,
    payload: (cast) => ({ ProviderId: randomUUID(), AdminId: cast.userId }),
  },
  {
    type: 25,
    name: 'PolicyChanged',
    route: ORGANIZATION_ROUTE,
    receivers: ORGANIZATION,
    payload: (cast) => ({
      OrganizationId: cast.organizationId,
      Policy: {
        Id: randomUUID(),
        OrganizationId: cast.organizationId,
        Type: 1,
        Data: '{"minComplexity":4,"minLength":14}',
        Enabled: true,
        CreationDate: CREATION_DATE,
        RevisionDate: REVISION_DATE,
      },
    }),
  },
  {
    type: 26,
    name: 'AutoConfirm',
    route: 'user UserId (not TargetUserId, not the organization)',
    receivers: USER,
    payload: (cast) => ({
      UserId: cast.userId,
      OrganizationId: cast.organizationId,
      TargetUserId: cast.otherUserId,
      TargetOrganizationUserId: randomUUID(),
    }),
  },
  {
    type: 27,
    name: 'PremiumStatusChanged',
    route: USER_ROUTE,
    receivers: USER,
    payload: (cast) => ({ UserId: cast.userId, Premium: true }),
  },
];

// Every type over both protocols; odd types skip negotiate (as Bitwarden's clients do), even
// types negotiate first, so both protocols run both ways. A third of the types arrive PascalCase.
const TYPE_ROWS = TYPE_CASES.flatMap((typeCase) =>
  (['messagepack', 'json'] as const).map((protocol) => ({
    ...typeCase,
    protocol,
    skipNegotiation: typeCase.type % 2 === 1,
    connect: typeCase.type % 2 === 1 ? 'no negotiate' : 'negotiate',
    dialect: dialectFor(typeCase.type % 3 === 2),
  })),
);

// ---------------------------------------------------------------------------------------------
// Notification / NotificationStatus precedence and client types (PROTOCOL.md §4, §5)
// ---------------------------------------------------------------------------------------------

/** The connections of a notification case: one user on four client types, a member, outsiders. */
type NotificationRole =
  | 'userBrowser'
  | 'userWeb'
  | 'userDesktop'
  | 'userCli'
  | 'memberBrowser'
  | 'memberDesktop'
  | 'bystanderBrowser'
  | 'bystanderWeb'
  | 'otherOrgMember';

const EVERY_NOTIFICATION_ROLE: NotificationRole[] = [
  'userBrowser',
  'userWeb',
  'userDesktop',
  'userCli',
  'memberBrowser',
  'memberDesktop',
  'bystanderBrowser',
  'bystanderWeb',
  'otherOrgMember',
];

interface NotificationCase {
  route: string;
  clientType: number;
  /** Which of InstallationId, UserId and OrganizationId are set. */
  installation?: 'this' | 'another';
  user?: boolean;
  organization?: boolean;
  receivers: NotificationRole[];
}

const NOTIFICATION_CASES: NotificationCase[] = [
  {
    route:
      'InstallationId (this one), UserId, OrganizationId, ClientType All → every connection of the installation',
    clientType: 0,
    installation: 'this',
    user: true,
    organization: true,
    receivers: EVERY_NOTIFICATION_ROLE,
  },
  {
    route: 'InstallationId (this one), ClientType Desktop → the Desktop connections of the installation only',
    clientType: 3,
    installation: 'this',
    user: true,
    receivers: ['userDesktop', 'memberDesktop'],
  },
  {
    route: 'InstallationId (another one) beats UserId and OrganizationId → nobody here',
    clientType: 0,
    installation: 'another',
    user: true,
    organization: true,
    receivers: [],
  },
  {
    route: 'UserId beats OrganizationId, ClientType All → every connection of the user',
    clientType: 0,
    user: true,
    organization: true,
    receivers: ['userBrowser', 'userWeb', 'userDesktop', 'userCli'],
  },
  {
    route: 'UserId, ClientType Web → the user’s Web connection only',
    clientType: 1,
    user: true,
    organization: true,
    receivers: ['userWeb'],
  },
  {
    route: 'UserId, ClientType Cli → the user’s Cli connection only',
    clientType: 5,
    user: true,
    receivers: ['userCli'],
  },
  {
    route: 'OrganizationId, ClientType All → every connection of every member',
    clientType: 0,
    organization: true,
    receivers: ['userBrowser', 'userWeb', 'userDesktop', 'userCli', 'memberBrowser', 'memberDesktop'],
  },
  {
    route: 'OrganizationId, ClientType Browser → the members’ Browser connections only',
    clientType: 2,
    organization: true,
    receivers: ['userBrowser', 'memberBrowser'],
  },
  {
    route: 'none of InstallationId, UserId, OrganizationId → nobody',
    clientType: 0,
    receivers: [],
  },
];

const NOTIFICATION_ROWS = ([20, 21] as const).flatMap((type) =>
  NOTIFICATION_CASES.map((notificationCase, index) => ({
    ...notificationCase,
    type,
    dialect: dialectFor(index % 2 === 1),
  })),
);

const CIPHER_TYPES = [0, 1, 2, 9] as const;
const ORGANIZATION_CLAIMS = ['orgowner', 'orgadmin', 'orguser', 'orgcustom'] as const;

/** Spreads protocols and negotiation over the connections of one case. */
const variant = (index: number): ConnectOptions => ({
  protocol: index % 2 === 0 ? 'messagepack' : 'json',
  skipNegotiation: index % 4 < 2,
});

describe('conformance with PROTOCOL.md: every PushType, routed and shaped as documented', () => {
  const namespace = testNamespace('conf');
  let issuer: TestIssuer;
  let gateway: ServiceProcess;
  let dispatcher: ServiceProcess;
  const clients: HubClient[] = [];
  /** Anonymous-hub connections open for the whole file: they must only ever get their markers. */
  let anonymousBystanders: Peer[] = [];

  async function openUser(
    label: string,
    userId: string,
    claims: Record<string, unknown>,
    options: ConnectOptions,
  ): Promise<Peer> {
    const client = await HubClient.connect(`${gateway.url}/notifications/hub`, {
      token: await issuer.userToken(userId, claims),
      ...options,
    });
    clients.push(client);
    return { label, client, protocol: options.protocol, marker: { userId } };
  }

  async function openAnonymous(
    label: string,
    token: string,
    options: ConnectOptions,
    key = 'Token',
  ): Promise<Peer> {
    const client = await HubClient.connect(
      `${gateway.url}/notifications/anonymous-hub?${key}=${token}`,
      options,
    );
    clients.push(client);
    return { label, client, protocol: options.protocol, marker: { token } };
  }

  async function send(body: unknown): Promise<void> {
    const response = await fetch(`${gateway.url}/send`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await issuer.internalToken()}`,
      },
      body: JSON.stringify(body),
    });
    expect({ status: response.status, body: await response.text() }).toEqual({ status: 200, body: '' });
  }

  /**
   * Sends every peer a marker (SyncVault to its user, AuthRequestResponse to its token) and waits
   * until each has it: whatever was posted before can no longer be on its way.
   */
  async function settle(peers: Peer[]): Promise<string> {
    const round = `${MARKER_PREFIX}${randomUUID()}`;
    const users = new Set(peers.flatMap((peer) => ('userId' in peer.marker ? [peer.marker.userId] : [])));
    const tokens = new Set(peers.flatMap((peer) => ('token' in peer.marker ? [peer.marker.token] : [])));
    await Promise.all([
      ...[...users].map((userId) =>
        send({ type: 5, payload: { userId, date: new Date().toISOString() }, contextId: round }),
      ),
      ...[...tokens].map((token) =>
        send({ type: 16, payload: { id: token, userId: randomUUID() }, contextId: round }),
      ),
    ]);
    await Promise.all(
      peers.map((peer) =>
        peer.client
          .next((invocation) => contextOf(invocation) === round)
          .catch(() => {
            throw new Error(`${peer.label} did not receive its marker`);
          }),
      ),
    );
    return round;
  }

  /**
   * Posts the event, and proves the routing: each receiver gets it exactly once, in the documented
   * shape for its protocol; every other peer gets nothing before its marker.
   */
  async function expectRouting(
    posted: Posted,
    dialect: Dialect,
    peers: Peer[],
    receivers: readonly string[],
  ): Promise<void> {
    expect(receivers.filter((label) => !peers.some((peer) => peer.label === label))).toEqual([]);
    await send(envelope(posted, dialect));
    // Receivers first (a missing one is reported below, by name), then everyone's marker.
    await Promise.all(
      peers
        .filter((peer) => receivers.includes(peer.label))
        .map((peer) =>
          peer.client
            .next((invocation) => contextOf(invocation) === posted.contextId, DELIVERY_WAIT_MS)
            .catch(() => undefined),
        ),
    );
    const watched = [...peers, ...anonymousBystanders];
    const round = await settle(watched);
    for (const peer of watched) {
      const received = peer.client.received.filter((invocation) => invocation.target !== 'Heartbeat');
      const expected = receivers.includes(peer.label)
        ? [
            {
              target: posted.target ?? 'ReceiveMessage',
              args: [
                {
                  ContextId: posted.contextId,
                  Type: posted.type,
                  Payload: asReceived(posted.payload, peer.protocol),
                },
              ],
            },
          ]
        : [];
      expect({
        connection: peer.label,
        notifications: received.filter(
          (invocation) => !String(contextOf(invocation)).startsWith(MARKER_PREFIX),
        ),
        markersThisRound: received.filter((invocation) => contextOf(invocation) === round).length,
      }).toEqual({ connection: peer.label, notifications: expected, markersThisRound: 1 });
    }
  }

  beforeAll(async () => {
    issuer = await TestIssuer.create('https://vault.example|login');
    const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
    [dispatcher, gateway] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('gateway', {
        ...env,
        HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
        HERALD_INSTALLATION_ID: INSTALLATION_ID,
      }),
    ]);
    anonymousBystanders = await Promise.all([
      openAnonymous('anonymous bystander (messagepack)', randomUUID(), {
        protocol: 'messagepack',
        skipNegotiation: true,
      }),
      openAnonymous('anonymous bystander (json)', randomUUID(), { protocol: 'json', skipNegotiation: false }),
    ]);
  }, TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    const codes = await Promise.all([gateway?.stop(), dispatcher?.stop()]);
    await deleteNamespace(namespace);
    // Both services shut down cleanly on SIGTERM.
    expect(codes).toEqual([0, 0]);
  }, TIMEOUT_MS);

  it.each(TYPE_ROWS)(
    '$type $name over $protocol ($connect, $dialect /send) → $route',
    async (row) => {
      const cast = newCast();
      const options = { protocol: row.protocol, skipNegotiation: row.skipNegotiation };
      const anonymous =
        row.type === 16
          ? [
              openAnonymous('waiting', cast.authRequestId, options),
              openAnonymous('alsoWaiting', cast.authRequestId, options),
              openAnonymous('otherWaiting', randomUUID(), options),
            ]
          : [];
      const peers = await Promise.all([
        openUser('user', cast.userId, { orguser: cast.organizationId }, options),
        openUser(
          'userDesktop',
          cast.userId,
          { orguser: cast.organizationId, devicetype: 'WindowsDesktop' },
          options,
        ),
        openUser('member', cast.memberId, { orgadmin: [cast.organizationId] }, options),
        openUser('otherUser', cast.otherUserId, {}, options),
        openUser('otherOrgMember', cast.otherOrgMemberId, { orguser: cast.otherOrganizationId }, options),
        ...anonymous,
      ]);
      await expectRouting(
        {
          type: row.type,
          contextId: `device-${randomUUID()}`,
          // Every documented field, and one Herald does not know: it must be forwarded too.
          payload: { ...row.payload(cast), ExtraField: 'kept' },
          target: row.type === 16 ? 'AuthRequestResponseRecieved' : 'ReceiveMessage',
        },
        row.dialect,
        peers,
        row.receivers,
      );
    },
    TIMEOUT_MS,
  );

  describe('cipher events (0, 1, 2, 9) without a UserId', () => {
    it.each(CIPHER_TYPES)(
      'type %i with an OrganizationId reaches every connection whose token lists it, by any claim, string or array; no other organization',
      async (type) => {
        const organizationId = randomUUID();
        const otherOrganizationId = randomUUID();
        const entries: [string, Record<string, unknown>][] = [
          ...ORGANIZATION_CLAIMS.flatMap((claim): [string, Record<string, unknown>][] => [
            [`${claim} as a string`, { [claim]: organizationId }],
            [`${claim} in an array`, { [claim]: [randomUUID(), organizationId] }],
          ]),
          ['orguser of another organization', { orguser: otherOrganizationId }],
          ['orgowner of other organizations', { orgowner: [otherOrganizationId, randomUUID()] }],
          ['no organization', {}],
        ];
        const peers = await Promise.all(
          entries.map(([label, claims], index) => openUser(label, randomUUID(), claims, variant(index))),
        );
        const dialect: Dialect = type % 2 === 0 ? 'camelCase' : 'PascalCase';
        await expectRouting(
          {
            type,
            contextId: `device-${randomUUID()}`,
            payload: unset(
              {
                Id: randomUUID(),
                OrganizationId: organizationId,
                CollectionIds: [randomUUID()],
                RevisionDate: REVISION_DATE,
              },
              ['UserId'],
              dialect,
            ),
          },
          dialect,
          peers,
          entries.slice(0, 8).map(([label]) => label),
        );
      },
      TIMEOUT_MS,
    );

    it.each(CIPHER_TYPES)(
      'type %i with neither UserId nor OrganizationId reaches nobody',
      async (type) => {
        const organizationId = randomUUID();
        const entries: [string, Record<string, unknown>][] = [
          ['orgowner', { orgowner: organizationId }],
          ['orguser in an array', { orguser: [organizationId] }],
          ['no organization', {}],
          ['Web client, no organization', { devicetype: 'ChromeBrowser' }],
        ];
        const peers = await Promise.all(
          entries.map(([label, claims], index) => openUser(label, randomUUID(), claims, variant(index))),
        );
        const dialect: Dialect = type % 2 === 0 ? 'camelCase' : 'PascalCase';
        await expectRouting(
          {
            type,
            contextId: `device-${randomUUID()}`,
            payload: unset(
              { Id: randomUUID(), CollectionIds: [], RevisionDate: REVISION_DATE },
              ['UserId', 'OrganizationId'],
              dialect,
            ),
          },
          dialect,
          peers,
          [],
        );
      },
      TIMEOUT_MS,
    );
  });

  describe('Notification (20) and NotificationStatus (21): InstallationId beats UserId beats OrganizationId, per client type', () => {
    it.each(NOTIFICATION_ROWS)(
      '$type: $route',
      async (row) => {
        const userId = randomUUID();
        const memberId = randomUUID();
        const bystanderId = randomUUID();
        const organizationId = randomUUID();
        const entries: [NotificationRole, string, Record<string, unknown>][] = [
          ['userBrowser', userId, { orguser: organizationId, devicetype: 'ChromeExtension' }],
          ['userWeb', userId, { orguser: organizationId, devicetype: 'ChromeBrowser' }],
          ['userDesktop', userId, { orguser: organizationId, devicetype: 'WindowsDesktop' }],
          ['userCli', userId, { orguser: organizationId, devicetype: 'LinuxCLI' }],
          ['memberBrowser', memberId, { orgcustom: [organizationId], devicetype: 'ChromeExtension' }],
          // DeviceType 7 (MacOsDesktop) as a number.
          ['memberDesktop', memberId, { orgcustom: [organizationId], devicetype: 7 }],
          ['bystanderBrowser', bystanderId, { devicetype: 'ChromeExtension' }],
          ['bystanderWeb', bystanderId, { devicetype: 'ChromeBrowser' }],
          ['otherOrgMember', randomUUID(), { orgowner: randomUUID(), devicetype: 'ChromeExtension' }],
        ];
        const peers = await Promise.all(
          entries.map(([label, id, claims], index) => openUser(label, id, claims, variant(index))),
        );
        const installationId =
          row.installation === 'this'
            ? INSTALLATION_ID
            : row.installation === 'another'
              ? randomUUID()
              : null;
        const fields: Payload = {
          ClientType: row.clientType,
          Global: installationId !== null,
          InstallationId: installationId,
          UserId: row.user ? userId : null,
          OrganizationId: row.organization ? organizationId : null,
        };
        const absent = Object.keys(fields).filter((name) => fields[name] === null);
        await expectRouting(
          {
            type: row.type,
            contextId: `device-${randomUUID()}`,
            payload: unset(notification(row.type, fields), absent, row.dialect),
          },
          row.dialect,
          peers,
          row.receivers,
        );
      },
      TIMEOUT_MS,
    );
  });

  describe('the anonymous hub', () => {
    it(
      'sends nothing on connect: the first message is the one posted for its token',
      async () => {
        const peers = await Promise.all(
          [0, 1, 2, 3].map((index) => openAnonymous(`anonymous ${index}`, randomUUID(), variant(index))),
        );
        await settle(peers);
        for (const peer of peers) {
          expect({ connection: peer.label, received: peer.client.received.map(contextOf) }).toEqual({
            connection: peer.label,
            received: [expect.stringMatching(/^marker:/)],
          });
        }
      },
      TIMEOUT_MS,
    );

    it(
      'accepts the Token query key in any letter case, and sends AuthRequestResponseRecieved with {ContextId, Type: 16, Payload: {Id, UserId}}',
      async () => {
        const authRequestId = randomUUID();
        const userId = randomUUID();
        const peers = await Promise.all([
          openAnonymous('Token=', authRequestId, variant(0), 'Token'),
          openAnonymous('token=', authRequestId, variant(1), 'token'),
          openAnonymous('TOKEN=', authRequestId, variant(2), 'TOKEN'),
          openUser('the requesting user on /hub', userId, {}, variant(3)),
        ]);
        await expectRouting(
          {
            type: 16,
            contextId: `device-${randomUUID()}`,
            payload: { Id: authRequestId, UserId: userId },
            target: 'AuthRequestResponseRecieved',
          },
          'camelCase',
          peers,
          ['Token=', 'token=', 'TOKEN='],
        );
      },
      TIMEOUT_MS,
    );

    it(
      'refuses a connection whose Token is not a GUID, or that has none, with 400 before the upgrade, and keeps serving',
      async () => {
        const queries = ['?Token=not-a-guid', '?Token=12345', '?token=', ''];
        const hub = `${gateway.url}/notifications/anonymous-hub`;
        // The exact answers: a crashed or hung gateway would not give them.
        const answers = await Promise.all(
          queries.flatMap((query) => [
            upgradeStatus(`${hub}${query}`).then((status) => `upgrade ${query}: ${status}`),
            fetch(`${hub}/negotiate${query === '' ? '?' : `${query}&`}negotiateVersion=1`, {
              method: 'POST',
            }).then((response) => `negotiate ${query}: ${response.status}`),
          ]),
        );
        expect(answers).toEqual(
          queries.flatMap((query) => [`upgrade ${query}: 400`, `negotiate ${query}: 400`]),
        );
        const attempts = queries.flatMap((query) =>
          [true, false].map(async (skipNegotiation) => {
            const url = `${gateway.url}/notifications/anonymous-hub${query}`;
            try {
              clients.push(await HubClient.connect(url, { skipNegotiation }));
              return `${query} (skipNegotiation ${skipNegotiation}): connected`;
            } catch {
              return `${query} (skipNegotiation ${skipNegotiation}): refused`;
            }
          }),
        );
        const outcomes = await Promise.all(attempts);
        expect(outcomes).toEqual(outcomes.map((outcome) => outcome.replace(/connected$/, 'refused')));
        // Still serving: a new anonymous connection gets what is posted for it.
        await settle([await openAnonymous('after the refusals', randomUUID(), variant(0))]);
      },
      TIMEOUT_MS,
    );
  });
});
