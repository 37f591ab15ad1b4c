import { type JWTPayload } from 'jose';

/** The claims Herald uses, normalised so callers never deal with the string-or-array variants. */
export interface VerifiedClaims {
  /** User id; lowercased when it is a GUID. */
  sub?: string;
  iss?: string;
  exp?: number;
  nbf?: number;
  scope: string[];
  /** Authentication methods (Bitwarden: `Application`, `external`). */
  amr: string[];
  /** Device identifier: what a notification's ContextId carries. */
  device?: string;
  /** Raw DeviceType: an enum name such as `ChromeExtension`, or a number (maybe as a string). */
  devicetype?: string | number;
  orgowner: string[];
  orgadmin: string[];
  orguser: string[];
  orgcustom: string[];
}

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** .NET writes GUIDs in either case; Herald compares them as lowercase everywhere (group keys). */
export function normalizeGuid(value: string): string {
  return guidPattern.test(value) ? value.toLowerCase() : value;
}

/**
 * Issuers disagree on list claims: IdentityServer writes a JSON array, or a plain string when the
 * list has one element; OAuth writes `scope` as one space-separated string. Accept all three.
 */
export function toStringList(value: unknown): string[] {
  const items = Array.isArray(value) ? (value as unknown[]) : [value];
  const list = items
    .filter((item): item is string => typeof item === 'string')
    .flatMap((item) => item.split(/\s+/))
    .filter((item) => item.length > 0)
    .map((item) => intern(normalizeGuid(item)));
  return list.length === 0 ? NO_ITEMS : list;
}

/** Every absent list claim is this one array: a cached token holds no empty arrays of its own. */
const NO_ITEMS: string[] = Object.freeze([]) as unknown as string[];

/**
 * One copy of each short claim value (issuer, scopes, `Application`, device types, organization
 * ids) however many cached tokens carry it: each verified token otherwise keeps its own strings
 * from JSON.parse. Bounded; once full, new values are kept as they come.
 */
const interned = new Map<string, string>();
const MAX_INTERNED = 20_000;
const MAX_INTERNED_LENGTH = 128;

function intern(value: string): string {
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size < MAX_INTERNED && value.length <= MAX_INTERNED_LENGTH) interned.set(value, value);
  return value;
}

function optionalString(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const trimmed = value.trim();
  return trimmed === '' ? undefined : normalizeGuid(trimmed);
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function optionalDeviceType(value: unknown): string | number | undefined {
  if (typeof value === 'number') return optionalNumber(value);
  const name = optionalString(value);
  return name === undefined ? undefined : intern(name);
}

/** Builds the normalised view of an already verified payload. The result is frozen: it is cached and shared. */
export function normalizeClaims(payload: JWTPayload): VerifiedClaims {
  const claims: VerifiedClaims = {
    sub: optionalString(payload.sub),
    iss: typeof payload.iss === 'string' ? intern(payload.iss) : undefined,
    exp: optionalNumber(payload.exp),
    nbf: optionalNumber(payload.nbf),
    scope: toStringList(payload['scope']),
    amr: toStringList(payload['amr']),
    device: optionalString(payload['device']),
    devicetype: optionalDeviceType(payload['devicetype']),
    orgowner: toStringList(payload['orgowner']),
    orgadmin: toStringList(payload['orgadmin']),
    orguser: toStringList(payload['orguser']),
    orgcustom: toStringList(payload['orgcustom']),
  };
  for (const list of [
    claims.scope,
    claims.amr,
    claims.orgowner,
    claims.orgadmin,
    claims.orguser,
    claims.orgcustom,
  ]) {
    Object.freeze(list);
  }
  return Object.freeze(claims);
}
