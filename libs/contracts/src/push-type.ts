/**
 * Bitwarden's PushType. WIRE VALUES: the numbers travel to real clients as `Type` and to the vault
 * API's `/send`; renumbering breaks deployed peers.
 */
export enum PushType {
  SyncCipherUpdate = 0,
  SyncCipherCreate = 1,
  SyncLoginDelete = 2,
  SyncFolderDelete = 3,
  SyncCiphers = 4,
  SyncVault = 5,
  SyncOrgKeys = 6,
  SyncFolderCreate = 7,
  SyncFolderUpdate = 8,
  SyncCipherDelete = 9,
  SyncSettings = 10,
  LogOut = 11,
  SyncSendCreate = 12,
  SyncSendUpdate = 13,
  SyncSendDelete = 14,
  AuthRequest = 15,
  AuthRequestResponse = 16,
  SyncOrganizations = 17,
  SyncOrganizationStatusChanged = 18,
  SyncOrganizationCollectionSettingChanged = 19,
  Notification = 20,
  NotificationStatus = 21,
  RefreshSecurityTasks = 22,
  OrganizationBankAccountVerified = 23,
  ProviderBankAccountVerified = 24,
  PolicyChanged = 25,
  AutoConfirm = 26,
  PremiumStatusChanged = 27,
}

/** The types Herald knows (has a payload schema and a routing rule for): 0 to 27. */
export const PUSH_TYPES: readonly PushType[] = Object.values(PushType).filter(
  (value): value is PushType => typeof value === 'number',
);

/**
 * The largest type Herald takes. Bitwarden's branches add types above 27 that collide (28-30
 * SyncReceive* on one, 28-29 RefreshApproverInbox/RefreshAccessRequest on another), so Herald
 * forwards any type 0-255 it does not know, unchanged, rather than refusing it.
 */
export const MAX_PUSH_TYPE = 255;

/** Any type Herald takes and forwards: an integer from 0 to 255, known to it or not. */
export function isPushType(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_PUSH_TYPE;
}

/** A type Herald knows: its payload is checked against a schema and routed by its rule. */
export function isKnownPushType(value: unknown): value is PushType {
  return isPushType(value) && PushType[value] !== undefined;
}
