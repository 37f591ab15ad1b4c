/** Which service delivers a device's pushes. Stored as text in `device.provider`. */
export type PushProvider = 'fcm' | 'apns' | 'webpush';

/** A browser extension's push subscription (RFC 8291 keys, base64url as the browser gives them). */
export interface WebPushSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
}

export interface DeviceRecord {
  /** Bitwarden device id, lowercase GUID; primary key. */
  id: string;
  /** Lowercase GUID. */
  userId: string;
  /** The device identifier (what ContextId carries); unique per user. */
  identifier: string;
  /** Bitwarden DeviceType 0-26. */
  type: number;
  provider: PushProvider | null;
  /** FCM/APNs token. */
  pushToken: string | null;
  webPush: WebPushSubscription | null;
  /** Lowercase GUIDs, sorted. */
  organizationIds: string[];
  installationId: string | null;
  failureCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface RegisterDevice {
  id: string;
  userId: string;
  identifier: string;
  type: number;
  provider: PushProvider | null;
  pushToken: string | null;
  webPush?: WebPushSubscription | null;
  organizationIds?: string[];
  installationId?: string | null;
}

export interface DeviceTargetQuery {
  /** Exactly one of `userId`, `organizationId`, `installationId` (anything else throws). */
  userId?: string;
  organizationId?: string;
  installationId?: string;
  /** The device that caused the event; it gets no push. Empty or null excludes nothing. */
  excludeIdentifier?: string | null;
  /** Restrict to these DeviceTypes (client-type filter); undefined = all, [] = none. */
  deviceTypes?: number[];
}

/**
 * The push worker's device registry. Every method validates its input before it touches the
 * database and throws `PersistenceValidationError` (with the offending `field`) when it is wrong;
 * GUIDs are accepted in any case and stored lowercase.
 */
export interface DeviceRepository {
  /**
   * Upserts by id in ONE transaction: the device row and its organization set (replaced by
   * `organizationIds`, default none) are written together or not at all. A registration is fresh:
   * the failure count restarts at 0 and `createdAt` survives from an earlier registration. Another
   * device of the same user with the same identifier (a stale id) is replaced.
   */
  register(input: RegisterDevice): Promise<DeviceRecord>;
  findById(id: string): Promise<DeviceRecord | undefined>;
  findByIdentifier(userId: string, identifier: string): Promise<DeviceRecord | undefined>;
  /**
   * Sets provider (`fcm` or `apns`) and token of an existing device of that user, dropping any web
   * push subscription and resetting the failure count; undefined if there is no such device.
   */
  updatePushToken(
    userId: string,
    identifier: string,
    provider: PushProvider,
    pushToken: string,
  ): Promise<DeviceRecord | undefined>;
  /** As `updatePushToken`, with provider `webpush` and the subscription instead of a token. */
  updateWebPush(
    userId: string,
    identifier: string,
    subscription: WebPushSubscription,
  ): Promise<DeviceRecord | undefined>;
  /** Deletes the device and (cascading) its organization memberships; false if it did not exist. */
  remove(id: string): Promise<boolean>;
  /** In one transaction; returns how many of the known devices joined (unknown ids are skipped). */
  addOrganization(deviceIds: string[], organizationId: string): Promise<number>;
  /** In one transaction; returns how many of the devices left the organization. */
  removeOrganization(deviceIds: string[], organizationId: string): Promise<number>;
  /** Devices with a push token or web push subscription matching the query, oldest first. */
  findTargets(query: DeviceTargetQuery): Promise<DeviceRecord[]>;
  /**
   * Clears a dead registration (token/subscription and provider set to null, failure count to 0);
   * the device row and its memberships stay. A no-op for an unknown id.
   */
  clearPushRegistration(id: string): Promise<void>;
  /** Increments the failure count atomically; returns the new count (0 for an unknown id). */
  recordFailure(id: string): Promise<number>;
  resetFailures(id: string): Promise<void>;
}

export interface InstallationRecord {
  id: string;
  enabled: boolean;
  createdAt: Date;
}

/** Installations that may use the push relay API (client credentials `installation.<id>` + key). */
export interface InstallationRepository {
  /**
   * New installation with a random id (GUID) and key (base64url, 40 characters); only a salted
   * scrypt hash of the key is stored, so the key is shown exactly once.
   */
  create(): Promise<{ installation: InstallationRecord; key: string }>;
  /** The installation if it exists, is enabled and the key matches (constant-time compare); else undefined. */
  verify(id: string, key: string): Promise<InstallationRecord | undefined>;
  findById(id: string): Promise<InstallationRecord | undefined>;
  /** Every installation, oldest first (never a key or its hash). */
  list(): Promise<InstallationRecord[]>;
  /** false if there is no such installation. */
  setEnabled(id: string, enabled: boolean): Promise<boolean>;
}

export interface SecretRepository {
  /**
   * A random 32-byte secret stored under `name`, created on first use. Race-safe: concurrent
   * callers (in this process or, on PostgreSQL, in others) all get the one value that was stored.
   */
  getOrCreate(name: string): Promise<Buffer>;
}

export interface Database {
  kind: 'postgres' | 'sqlite';
  devices: DeviceRepository;
  installations: InstallationRepository;
  secrets: SecretRepository;
  /** true when a trivial query succeeds (readiness). */
  ping(): Promise<boolean>;
  /** Waits for work in progress (SQLite: and its save to disk), then closes. Idempotent. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres://… ; unset = SQLite file `${dataDir}/herald.sqlite` */
  url?: string;
  dataDir: string;
  /** PostgreSQL schema to use (created if missing); tests use one per run. Default 'public'. */
  schema?: string;
}
