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

export const PUSH_TYPES: readonly PushType[] = Object.values(PushType).filter(
  (value): value is PushType => typeof value === 'number',
);

export function isPushType(value: unknown): value is PushType {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 27;
}
