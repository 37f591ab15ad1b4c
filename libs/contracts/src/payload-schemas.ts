import { PushType } from './push-type';

export type FieldKind = 'guid' | 'guid[]' | 'date' | 'bool' | 'int' | 'string' | 'object';

export interface FieldSchema {
  readonly kind: FieldKind;
  /** Required fields must be present and not null. */
  readonly required: boolean;
  /** Allowed integer range, for `int`. */
  readonly range?: readonly [number, number];
  /** Fields of a nested object, for `object`. */
  readonly fields?: PayloadSchema;
}

/** PascalCase field name -> schema. */
export type PayloadSchema = Readonly<Record<string, FieldSchema>>;

const required = (kind: FieldKind, extra: Partial<FieldSchema> = {}): FieldSchema => ({
  kind,
  required: true,
  ...extra,
});
const optional = (kind: FieldKind, extra: Partial<FieldSchema> = {}): FieldSchema => ({
  kind,
  required: false,
  ...extra,
});

const cipher: PayloadSchema = {
  Id: required('guid'),
  UserId: optional('guid'),
  OrganizationId: optional('guid'),
  CollectionIds: optional('guid[]'),
  RevisionDate: required('date'),
};
const item: PayloadSchema = {
  Id: required('guid'),
  UserId: required('guid'),
  RevisionDate: required('date'),
};
const user: PayloadSchema = { UserId: required('guid'), Date: required('date') };
const authRequest: PayloadSchema = { Id: required('guid'), UserId: required('guid') };
const notification: PayloadSchema = {
  Id: required('guid'),
  Priority: required('int', { range: [0, 4] }),
  Global: required('bool'),
  ClientType: required('int', { range: [0, 5] }),
  UserId: optional('guid'),
  OrganizationId: optional('guid'),
  InstallationId: optional('guid'),
  TaskId: optional('guid'),
  Title: optional('string'),
  Body: optional('string'),
  CreationDate: required('date'),
  RevisionDate: required('date'),
};
const policy: PayloadSchema = {
  Id: required('guid'),
  OrganizationId: required('guid'),
  Type: required('int', { range: [0, 2 ** 31 - 1] }),
  Data: optional('string'),
  Enabled: required('bool'),
  CreationDate: required('date'),
  RevisionDate: required('date'),
};

/** The fields Herald checks for each PushType (PROTOCOL.md §4). Other fields are forwarded untouched. */
export const PAYLOAD_SCHEMAS: Readonly<Record<PushType, PayloadSchema>> = {
  [PushType.SyncCipherUpdate]: cipher,
  [PushType.SyncCipherCreate]: cipher,
  [PushType.SyncLoginDelete]: cipher,
  [PushType.SyncFolderDelete]: item,
  [PushType.SyncCiphers]: user,
  [PushType.SyncVault]: user,
  [PushType.SyncOrgKeys]: user,
  [PushType.SyncFolderCreate]: item,
  [PushType.SyncFolderUpdate]: item,
  [PushType.SyncCipherDelete]: cipher,
  [PushType.SyncSettings]: user,
  [PushType.LogOut]: { UserId: required('guid'), Reason: optional('int', { range: [0, 255] }) },
  [PushType.SyncSendCreate]: item,
  [PushType.SyncSendUpdate]: item,
  [PushType.SyncSendDelete]: item,
  [PushType.AuthRequest]: authRequest,
  [PushType.AuthRequestResponse]: authRequest,
  [PushType.SyncOrganizations]: user,
  [PushType.SyncOrganizationStatusChanged]: { OrganizationId: required('guid'), Enabled: required('bool') },
  [PushType.SyncOrganizationCollectionSettingChanged]: {
    OrganizationId: required('guid'),
    LimitCollectionCreation: required('bool'),
    LimitCollectionDeletion: required('bool'),
    LimitItemDeletion: required('bool'),
  },
  [PushType.Notification]: notification,
  [PushType.NotificationStatus]: {
    ...notification,
    ReadDate: optional('date'),
    DeletedDate: optional('date'),
  },
  [PushType.RefreshSecurityTasks]: user,
  [PushType.OrganizationBankAccountVerified]: { OrganizationId: required('guid') },
  [PushType.ProviderBankAccountVerified]: { ProviderId: required('guid'), AdminId: required('guid') },
  [PushType.PolicyChanged]: {
    OrganizationId: required('guid'),
    Policy: required('object', { fields: policy }),
  },
  [PushType.AutoConfirm]: {
    UserId: required('guid'),
    OrganizationId: required('guid'),
    TargetUserId: required('guid'),
    TargetOrganizationUserId: required('guid'),
  },
  [PushType.PremiumStatusChanged]: { UserId: required('guid'), Premium: required('bool') },
};
