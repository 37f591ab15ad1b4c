import { type ClientType } from './device-type';
import { type PushType } from './push-type';

/**
 * Payload of every PushType as Herald forwards it: PascalCase keys (what Bitwarden's hub writes;
 * clients also read camelCase), GUIDs lowercase, dates as Date. WIRE NAMES: these keys reach real
 * clients; renaming one breaks them. Fields Herald does not know are forwarded too, so every
 * payload may carry more keys than its interface lists.
 */
export interface CipherPayload {
  Id: string;
  UserId?: string | null;
  OrganizationId?: string | null;
  CollectionIds?: string[] | null;
  RevisionDate: Date;
}

export interface ItemPayload {
  Id: string;
  UserId: string;
  RevisionDate: Date;
}

export interface UserPayload {
  UserId: string;
  Date: Date;
}

export interface LogOutPayload {
  UserId: string;
  /** 0 KdfChange, 1 KeyRotation */
  Reason?: number | null;
}

export interface AuthRequestPayload {
  Id: string;
  UserId: string;
}

export interface OrganizationStatusPayload {
  OrganizationId: string;
  Enabled: boolean;
}

export interface OrganizationCollectionSettingsPayload {
  OrganizationId: string;
  LimitCollectionCreation: boolean;
  LimitCollectionDeletion: boolean;
  LimitItemDeletion: boolean;
}

export interface NotificationPayload {
  Id: string;
  /** 0 Informational … 4 Critical */
  Priority: number;
  Global: boolean;
  ClientType: ClientType;
  UserId?: string | null;
  OrganizationId?: string | null;
  InstallationId?: string | null;
  TaskId?: string | null;
  Title?: string | null;
  Body?: string | null;
  CreationDate: Date;
  RevisionDate: Date;
}

export interface NotificationStatusPayload extends NotificationPayload {
  ReadDate?: Date | null;
  DeletedDate?: Date | null;
}

export interface OrganizationPayload {
  OrganizationId: string;
}

export interface ProviderBankAccountVerifiedPayload {
  ProviderId: string;
  AdminId: string;
}

export interface PolicyPayload {
  Id: string;
  OrganizationId: string;
  Type: number;
  Data?: string | null;
  Enabled: boolean;
  CreationDate: Date;
  RevisionDate: Date;
}

export interface PolicyChangedPayload {
  OrganizationId: string;
  Policy: PolicyPayload;
}

export interface AutoConfirmPayload {
  UserId: string;
  OrganizationId: string;
  TargetUserId: string;
  TargetOrganizationUserId: string;
}

export interface PremiumStatusChangedPayload {
  UserId: string;
  Premium: boolean;
}

/** One map from PushType to its payload: the single source of truth for producers and consumers. */
export interface PushPayloads {
  [PushType.SyncCipherUpdate]: CipherPayload;
  [PushType.SyncCipherCreate]: CipherPayload;
  [PushType.SyncLoginDelete]: CipherPayload;
  [PushType.SyncFolderDelete]: ItemPayload;
  [PushType.SyncCiphers]: UserPayload;
  [PushType.SyncVault]: UserPayload;
  [PushType.SyncOrgKeys]: UserPayload;
  [PushType.SyncFolderCreate]: ItemPayload;
  [PushType.SyncFolderUpdate]: ItemPayload;
  [PushType.SyncCipherDelete]: CipherPayload;
  [PushType.SyncSettings]: UserPayload;
  [PushType.LogOut]: LogOutPayload;
  [PushType.SyncSendCreate]: ItemPayload;
  [PushType.SyncSendUpdate]: ItemPayload;
  [PushType.SyncSendDelete]: ItemPayload;
  [PushType.AuthRequest]: AuthRequestPayload;
  [PushType.AuthRequestResponse]: AuthRequestPayload;
  [PushType.SyncOrganizations]: UserPayload;
  [PushType.SyncOrganizationStatusChanged]: OrganizationStatusPayload;
  [PushType.SyncOrganizationCollectionSettingChanged]: OrganizationCollectionSettingsPayload;
  [PushType.Notification]: NotificationPayload;
  [PushType.NotificationStatus]: NotificationStatusPayload;
  [PushType.RefreshSecurityTasks]: UserPayload;
  [PushType.OrganizationBankAccountVerified]: OrganizationPayload;
  [PushType.ProviderBankAccountVerified]: ProviderBankAccountVerifiedPayload;
  [PushType.PolicyChanged]: PolicyChangedPayload;
  [PushType.AutoConfirm]: AutoConfirmPayload;
  [PushType.PremiumStatusChanged]: PremiumStatusChangedPayload;
}

export type PayloadOf<T extends PushType> = PushPayloads[T];
