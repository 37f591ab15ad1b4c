/** Which service delivers a device's pushes. Stored as text in `device.provider`. */
export type PushProvider = 'fcm' | 'apns' | 'webpush';

/** A browser extension's push subscription (RFC 8291 keys, base64url as the browser gives them). */
export interface WebPushSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/**
 * Whose registrations: every registration belongs to exactly one namespace and is only ever seen
 * through it, so two namespaces may hold the same device id, user id or identifier without
 * meeting. `null` is the users' own (registered with a vault access token); a GUID is the relay
 * installation that registered it (Bitwarden's relay prefixes every id with the installation id
 * for the same reason).
 */
export type DeviceNamespace = string | null;

/** One registration: its namespace and its device id there. A `DeviceRecord` is one too. */
export interface DeviceKey {
  installationId: DeviceNamespace;
  id: string;
}

export interface DeviceRecord extends DeviceKey {
  /** Bitwarden device id, lowercase GUID; unique within the namespace. */
  id: string;
  /** The namespace: null for the users' own registrations, else the relay installation's id. */
  installationId: DeviceNamespace;
  /** Lowercase GUID. */
  userId: string;
  /** The device identifier (what ContextId carries); unique per user within the namespace. */
  identifier: string;
  /** Bitwarden DeviceType 0-26. */
  type: number;
  provider: PushProvider | null;
  /** FCM/APNs token. */
  pushToken: string | null;
  webPush: WebPushSubscription | null;
  /** Lowercase GUIDs, sorted. */
  organizationIds: string[];
  failureCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface RegisterDevice {
  /** The namespace the registration goes into (null: the users' own); never defaulted. */
  installationId: DeviceNamespace;
  id: string;
  userId: string;
  identifier: string;
  type: number;
  provider: PushProvider | null;
  pushToken: string | null;
  webPush?: WebPushSubscription | null;
  organizationIds?: string[];
}

export interface RegisterOptions {
  /**
   * Refuse (`DeviceLimitError`) a registration that would give its user more than this many
   * registrations in the namespace. Re-registering one of them (same id, or same identifier) is
   * never refused. Unset: no limit.
   */
  maxDevicesPerUser?: number;
}

export interface DeviceTargetQuery {
  /** The namespaces searched, at least one: null for the users' own, an installation id for its. */
  namespaces: DeviceNamespace[];
  /** Exactly one of `userId`, `organizationId` and `everyone` (anything else throws). */
  userId?: string;
  organizationId?: string;
  /** Every registration of the namespaces. */
  everyone?: true;
  /** The device that caused the event; it gets no push. Empty or null excludes nothing. */
  excludeIdentifier?: string | null;
  /** Restrict to these DeviceTypes (client-type filter); undefined = all, [] = none. */
  deviceTypes?: number[];
}

/**
 * The push worker's device registry. Every method validates its input before it touches the
 * database and throws `PersistenceValidationError` (with the offending `field`) when it is wrong;
 * GUIDs are accepted in any case and stored lowercase. Every method works inside the namespace it
 * is given and never sees or changes a registration of another.
 */
export interface DeviceRepository {
  /**
   * Upserts by (namespace, id) in ONE transaction: the device row and its organization set
   * (replaced by `organizationIds`, default none) are written together or not at all. A
   * registration is fresh: the failure count restarts at 0 and `createdAt` survives from an earlier
   * registration. Another device of the same user with the same identifier in the namespace (a
   * stale id) is replaced. Throws `DeviceLimitError` past `options.maxDevicesPerUser`, counted
   * atomically (concurrent registrations of one user never pass it together).
   */
  register(input: RegisterDevice, options?: RegisterOptions): Promise<DeviceRecord>;
  find(key: DeviceKey): Promise<DeviceRecord | undefined>;
  findByIdentifier(
    namespace: DeviceNamespace,
    userId: string,
    identifier: string,
  ): Promise<DeviceRecord | undefined>;
  /**
   * Sets provider (`fcm` or `apns`) and token of an existing device of that user, dropping any web
   * push subscription and resetting the failure count; undefined if there is no such device.
   */
  updatePushToken(
    namespace: DeviceNamespace,
    userId: string,
    identifier: string,
    provider: PushProvider,
    pushToken: string,
  ): Promise<DeviceRecord | undefined>;
  /** As `updatePushToken`, with provider `webpush` and the subscription instead of a token. */
  updateWebPush(
    namespace: DeviceNamespace,
    userId: string,
    identifier: string,
    subscription: WebPushSubscription,
  ): Promise<DeviceRecord | undefined>;
  /** Deletes the device and (cascading) its organization memberships; false if it did not exist. */
  remove(key: DeviceKey): Promise<boolean>;
  /** In one transaction; returns how many of the namespace's devices joined (unknown ids are skipped). */
  addOrganization(namespace: DeviceNamespace, deviceIds: string[], organizationId: string): Promise<number>;
  /** In one transaction; returns how many of the namespace's devices left the organization. */
  removeOrganization(
    namespace: DeviceNamespace,
    deviceIds: string[],
    organizationId: string,
  ): Promise<number>;
  /** Devices with a push token or web push subscription matching the query, oldest first. */
  findTargets(query: DeviceTargetQuery): Promise<DeviceRecord[]>;
  /**
   * Clears a dead registration (token/subscription and provider set to null, failure count to 0);
   * the device row and its memberships stay. A no-op for an unknown device.
   */
  clearPushRegistration(key: DeviceKey): Promise<void>;
  /** Increments the failure count atomically; returns the new count (0 for an unknown device). */
  recordFailure(key: DeviceKey): Promise<number>;
  resetFailures(key: DeviceKey): Promise<void>;
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
