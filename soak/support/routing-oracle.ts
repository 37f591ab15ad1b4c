/**
 * Who an event is meant for, written again from the tables in docs/routing.md and PROTOCOL.md §4–§5
 * (not imported from the dispatcher, so that a bug there cannot hide itself here).
 */

/** Bitwarden's ClientType numbers: All 0, Web 1, Browser 2, Desktop 3, Mobile 4, Cli 5. */
export const CLIENT_TYPES = [0, 1, 2, 3, 4, 5] as const;

/** DeviceType name → [number, ClientType]. SDK and Server join no client-type group (All). */
const DEVICE_TYPES: Record<string, [number, number]> = {
  Android: [0, 4],
  iOS: [1, 4],
  ChromeExtension: [2, 2],
  FirefoxExtension: [3, 2],
  OperaExtension: [4, 2],
  EdgeExtension: [5, 2],
  WindowsDesktop: [6, 3],
  MacOsDesktop: [7, 3],
  LinuxDesktop: [8, 3],
  ChromeBrowser: [9, 1],
  FirefoxBrowser: [10, 1],
  OperaBrowser: [11, 1],
  EdgeBrowser: [12, 1],
  IEBrowser: [13, 1],
  UnknownBrowser: [14, 1],
  AndroidAmazon: [15, 4],
  UWP: [16, 3],
  SafariBrowser: [17, 1],
  VivaldiBrowser: [18, 1],
  VivaldiExtension: [19, 2],
  SafariExtension: [20, 2],
  SDK: [21, 0],
  Server: [22, 0],
  WindowsCLI: [23, 5],
  MacOsCLI: [24, 5],
  LinuxCLI: [25, 5],
  DuckDuckGoBrowser: [26, 1],
};

export const DEVICE_TYPE_NAMES = Object.keys(DEVICE_TYPES);

/**
 * The client type a `devicetype` claim gives: a name in any case, a number, or a numeric string;
 * anything else (missing, unknown) means All (0).
 */
export function clientTypeOfClaim(claim: unknown): number {
  if (typeof claim === 'number' || (typeof claim === 'string' && /^\d+$/.test(claim))) {
    const number = Number(claim);
    return Object.values(DEVICE_TYPES).find(([value]) => value === number)?.[1] ?? 0;
  }
  if (typeof claim === 'string') {
    const entry = Object.entries(DEVICE_TYPES).find(([name]) => name.toLowerCase() === claim.toLowerCase());
    return entry?.[1][1] ?? 0;
  }
  return 0;
}

export function deviceTypeNumber(name: string): number {
  return DEVICE_TYPES[name]![0];
}

/** A connection as the routing rules see it. */
export type Recipient =
  | {
      hub: 'user';
      userId: string;
      deviceId: string;
      organizationIds: ReadonlySet<string>;
      clientType: number;
      /** HERALD_INSTALLATION_ID of the gateway it is connected to. */
      installationId: string | undefined;
    }
  | { hub: 'anonymous'; token: string };

/** An event as published (payload keys PascalCase, GUIDs lowercase). */
export interface PublishedEvent {
  type: number;
  payload: Record<string, unknown>;
  contextId: string | null;
}

/** Types routed to user `UserId`. */
export const USER_TYPES = [3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 17, 22, 26, 27];
/** User `UserId`, else organization `OrganizationId`, else nobody. */
export const CIPHER_TYPES = [0, 1, 2, 9];
/** Organization `OrganizationId`. */
export const ORGANIZATION_TYPES = [18, 19, 23, 25];
/** Installation, else user, else organization, filtered by the payload's ClientType. */
export const NOTIFICATION_TYPES = [20, 21];
export const AUTH_REQUEST_RESPONSE = 16;
export const PROVIDER_BANK_ACCOUNT_VERIFIED = 24;

/** The hub method a recipient of this event is invoked with. */
export function methodOf(event: PublishedEvent): string {
  return event.type === AUTH_REQUEST_RESPONSE ? 'AuthRequestResponseRecieved' : 'ReceiveMessage';
}

/** Whether Bitwarden's routing rules deliver `event` to `recipient` (docs/routing.md). */
export function isMeantFor(event: PublishedEvent, recipient: Recipient): boolean {
  const payload = event.payload;
  const id = (name: string): string | undefined =>
    typeof payload[name] === 'string' ? payload[name].toLowerCase() : undefined;
  if (recipient.hub === 'anonymous') {
    return event.type === AUTH_REQUEST_RESPONSE && id('Id') === recipient.token;
  }
  const isUser = (userId: string | undefined) => userId !== undefined && userId === recipient.userId;
  const isMember = (organizationId: string | undefined) =>
    organizationId !== undefined && recipient.organizationIds.has(organizationId);
  if (USER_TYPES.includes(event.type)) return isUser(id('UserId'));
  if (CIPHER_TYPES.includes(event.type)) {
    if (id('UserId')) return isUser(id('UserId'));
    return isMember(id('OrganizationId'));
  }
  if (ORGANIZATION_TYPES.includes(event.type)) return isMember(id('OrganizationId'));
  if (event.type === PROVIDER_BANK_ACCOUNT_VERIFIED) return isUser(id('AdminId'));
  if (NOTIFICATION_TYPES.includes(event.type)) {
    const clientType = payload.ClientType;
    if (clientType !== 0 && clientType !== recipient.clientType) return false;
    if (id('InstallationId')) return id('InstallationId') === recipient.installationId;
    if (id('UserId')) return isUser(id('UserId'));
    return isMember(id('OrganizationId'));
  }
  return false;
}
