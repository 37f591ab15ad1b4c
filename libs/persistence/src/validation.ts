import { DeviceType } from '@herald/contracts';

import { PersistenceValidationError } from './persistence-validation.error';
import {
  type DeviceKey,
  type DeviceNamespace,
  type DeviceTargetQuery,
  type PushProvider,
  type RegisterDevice,
  type RegisterOptions,
  type WebPushSubscription,
} from './persistence.ports';

// Column limits; the migrations use the same numbers.
export const MAX_IDENTIFIER_LENGTH = 255;
export const MAX_SECRET_NAME_LENGTH = 255;
const MAX_TOKEN_LENGTH = 4096;
const MAX_WEB_PUSH_KEY_LENGTH = 512;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The nil GUID: what the users' own namespace is stored as, so never an installation's id. */
export const NIL_GUID = '00000000-0000-0000-0000-000000000000';
const PROVIDERS: readonly PushProvider[] = ['fcm', 'apns', 'webpush'];
const DEVICE_TYPE_NAMES: Readonly<Record<number, string | undefined>> = DeviceType;

/** A GUID in canonical 8-4-4-4-12 form, any case; returned lowercase. */
export function guid(field: string, value: unknown): string {
  if (typeof value !== 'string' || !GUID.test(value)) {
    throw new PersistenceValidationError(field, 'must be a GUID');
  }
  return value.toLowerCase();
}

/** Lowercased, duplicates dropped, in first-seen order. */
export function guidList(field: string, values: unknown): string[] {
  if (!Array.isArray(values)) throw new PersistenceValidationError(field, 'must be an array of GUIDs');
  const seen = new Set<string>();
  values.forEach((value, index) => seen.add(guid(`${field}[${index}]`, value)));
  return [...seen];
}

/** null (the users' own registrations) or an installation id; undefined is refused, never defaulted. */
export function namespace(field: string, value: unknown): DeviceNamespace {
  if (value === null) return null;
  if (value === undefined) {
    throw new PersistenceValidationError(field, 'must be an installation id, or null for the users’ own');
  }
  const installationId = guid(field, value);
  if (installationId === NIL_GUID) throw new PersistenceValidationError(field, 'is not an installation id');
  return installationId;
}

export function deviceKey(field: string, value: unknown): DeviceKey {
  if (typeof value !== 'object' || value === null) {
    throw new PersistenceValidationError(field, 'must be {installationId, id}');
  }
  const key = value as Partial<Record<keyof DeviceKey, unknown>>;
  return {
    installationId: namespace(`${field}.installationId`, key.installationId),
    id: guid(`${field}.id`, key.id),
  };
}

export function registerOptions(options: RegisterOptions | undefined): { maxDevicesPerUser: number | null } {
  const max = options?.maxDevicesPerUser;
  if (max === undefined) return { maxDevicesPerUser: null };
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
    throw new PersistenceValidationError('maxDevicesPerUser', 'must be a positive integer');
  }
  return { maxDevicesPerUser: max };
}

export function identifier(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new PersistenceValidationError(field, 'must be a non-empty string');
  }
  if (value.length > MAX_IDENTIFIER_LENGTH) {
    throw new PersistenceValidationError(field, `must be at most ${MAX_IDENTIFIER_LENGTH} characters`);
  }
  return value;
}

export function deviceType(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || DEVICE_TYPE_NAMES[value] === undefined) {
    throw new PersistenceValidationError(field, 'must be a Bitwarden DeviceType (an integer 0-26)');
  }
  return value;
}

export function provider(field: string, value: unknown): PushProvider {
  const known = PROVIDERS.find((candidate) => candidate === value);
  if (known === undefined)
    throw new PersistenceValidationError(field, `must be one of ${PROVIDERS.join(', ')}`);
  return known;
}

export function pushToken(field: string, value: unknown): string {
  return boundedString(field, value, MAX_TOKEN_LENGTH);
}

export function webPushSubscription(field: string, value: unknown): WebPushSubscription {
  if (typeof value !== 'object' || value === null) {
    throw new PersistenceValidationError(field, 'must be an object with endpoint, p256dh and auth');
  }
  const { endpoint, p256dh, auth } = value as Partial<Record<keyof WebPushSubscription, unknown>>;
  const url = boundedString(`${field}.endpoint`, endpoint, MAX_TOKEN_LENGTH);
  if (!URL.canParse(url) || !['https:', 'http:'].includes(new URL(url).protocol)) {
    throw new PersistenceValidationError(`${field}.endpoint`, 'must be an http(s) URL');
  }
  return {
    endpoint: url,
    p256dh: boundedString(`${field}.p256dh`, p256dh, MAX_WEB_PUSH_KEY_LENGTH),
    auth: boundedString(`${field}.auth`, auth, MAX_WEB_PUSH_KEY_LENGTH),
  };
}

export function secretName(field: string, value: unknown): string {
  return boundedString(field, value, MAX_SECRET_NAME_LENGTH);
}

/** A registration as it is stored: lowercase GUIDs, defaults applied, organizations deduplicated. */
export interface ValidRegistration {
  installationId: DeviceNamespace;
  id: string;
  userId: string;
  identifier: string;
  type: number;
  provider: PushProvider | null;
  pushToken: string | null;
  webPush: WebPushSubscription | null;
  organizationIds: string[];
}

export function registration(input: RegisterDevice): ValidRegistration {
  if (typeof input !== 'object' || input === null) {
    throw new PersistenceValidationError('input', 'must be a device registration');
  }
  const valid: ValidRegistration = {
    installationId: namespace('installationId', input.installationId),
    id: guid('id', input.id),
    userId: guid('userId', input.userId),
    identifier: identifier('identifier', input.identifier),
    type: deviceType('type', input.type),
    provider: input.provider === null ? null : provider('provider', input.provider),
    pushToken: input.pushToken === null ? null : pushToken('pushToken', input.pushToken),
    webPush:
      input.webPush === undefined || input.webPush === null
        ? null
        : webPushSubscription('webPush', input.webPush),
    organizationIds: guidList('organizationIds', input.organizationIds ?? []),
  };
  // One device, one push channel: a record with both would leave the worker guessing.
  if (valid.pushToken !== null && valid.webPush !== null) {
    throw new PersistenceValidationError(
      'webPush',
      'a device has either a push token or a web push subscription',
    );
  }
  return valid;
}

/** The one audience of a target query, within its namespaces. */
export type TargetAudience =
  { kind: 'user'; userId: string } | { kind: 'organization'; organizationId: string } | { kind: 'everyone' };

export interface ValidTargetQuery {
  namespaces: DeviceNamespace[];
  audience: TargetAudience;
  excludeIdentifier: string | null;
  deviceTypes: number[] | null;
}

export function targetQuery(query: DeviceTargetQuery): ValidTargetQuery {
  if (typeof query !== 'object' || query === null) {
    throw new PersistenceValidationError('query', 'must be a target query');
  }
  if (!Array.isArray(query.namespaces) || query.namespaces.length === 0) {
    throw new PersistenceValidationError('namespaces', 'must name at least one namespace');
  }
  const namespaces = [
    ...new Set(query.namespaces.map((value, index) => namespace(`namespaces[${index}]`, value))),
  ];
  const audiences: TargetAudience[] = [];
  if (query.userId !== undefined) audiences.push({ kind: 'user', userId: guid('userId', query.userId) });
  if (query.organizationId !== undefined) {
    audiences.push({ kind: 'organization', organizationId: guid('organizationId', query.organizationId) });
  }
  if (query.everyone !== undefined) {
    if (query.everyone !== true) throw new PersistenceValidationError('everyone', 'must be true or unset');
    audiences.push({ kind: 'everyone' });
  }
  const audience = audiences[0];
  if (audience === undefined || audiences.length !== 1) {
    throw new PersistenceValidationError(
      'query',
      'must name exactly one of userId, organizationId and everyone',
    );
  }
  const exclude = query.excludeIdentifier;
  let deviceTypes: number[] | null = null;
  if (query.deviceTypes !== undefined) {
    if (!Array.isArray(query.deviceTypes)) {
      throw new PersistenceValidationError('deviceTypes', 'must be an array of DeviceTypes');
    }
    deviceTypes = [
      ...new Set(query.deviceTypes.map((type, index) => deviceType(`deviceTypes[${index}]`, type))),
    ];
  }
  return {
    namespaces,
    audience,
    excludeIdentifier:
      exclude === undefined || exclude === null || exclude === ''
        ? null
        : identifier('excludeIdentifier', exclude),
    deviceTypes,
  };
}

function boundedString(field: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new PersistenceValidationError(field, 'must be a non-empty string');
  }
  if (value.length > maxLength) {
    throw new PersistenceValidationError(field, `must be at most ${maxLength} characters`);
  }
  return value;
}
