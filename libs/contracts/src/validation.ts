import { type FieldSchema, PAYLOAD_SCHEMAS, type PayloadSchema } from './payload-schemas';
import { type PushPayloads } from './payloads';
import { isKnownPushType, isPushType, MAX_PUSH_TYPE, type PushType } from './push-type';
import { ValidationError } from './validation.error';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// ISO-8601 date-time as .NET writes it: up to 7 fraction digits, `Z`, an offset, or no zone (UTC).
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const MAX_STRING_LENGTH = 64 * 1024;
const MAX_ARRAY_LENGTH = 10_000;
/**
 * How deep a payload may nest (the payload object is level 1). Bitwarden's go three levels deep;
 * the MessagePack encoder and decoder recurse, so a payload nested thousands of levels would
 * overflow the stack of every process that handles it.
 */
export const MAX_PAYLOAD_DEPTH = 32;
/** How many values (objects, arrays and scalars, the payload included) one payload may hold. */
export const MAX_PAYLOAD_VALUES = 20_000;

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  // Compared by tag, not by prototype identity, so objects from another realm (vm, worker) pass.
  return Object.prototype.toString.call(value) === '[object Object]';
}

/** Lowercase hyphenated GUID, or a ValidationError naming the field. */
export function normalizeGuid(value: unknown, path: string): string {
  if (!isGuid(value)) {
    throw new ValidationError(path, `expected a GUID, got ${describe(value)}`);
  }
  return value.toLowerCase();
}

function normalizeDate(value: unknown, path: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new ValidationError(path, 'invalid date');
    }
    return value;
  }
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value)) {
    throw new ValidationError(path, `expected an ISO-8601 date-time string, got ${describe(value)}`);
  }
  // A date-time without a zone is UTC (what .NET means by it), never the server's local time.
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
  const date = new Date(zoned);
  if (Number.isNaN(date.getTime())) {
    throw new ValidationError(path, `not a valid date: ${JSON.stringify(value)}`);
  }
  return date;
}

function normalizeField(value: unknown, schema: FieldSchema, path: string): unknown {
  switch (schema.kind) {
    case 'guid':
      return normalizeGuid(value, path);
    case 'guid[]':
      if (!Array.isArray(value) || value.length > MAX_ARRAY_LENGTH) {
        throw new ValidationError(path, `expected an array of GUIDs, got ${describe(value)}`);
      }
      return value.map((entry, index) => normalizeGuid(entry, `${path}[${index}]`));
    case 'date':
      return normalizeDate(value, path);
    case 'bool':
      if (typeof value !== 'boolean') {
        throw new ValidationError(path, `expected a boolean, got ${describe(value)}`);
      }
      return value;
    case 'int': {
      const [min, max] = schema.range ?? [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new ValidationError(path, `expected an integer from ${min} to ${max}, got ${describe(value)}`);
      }
      return value;
    }
    case 'string':
      if (typeof value !== 'string' || value.length > MAX_STRING_LENGTH) {
        throw new ValidationError(path, `expected a string, got ${describe(value)}`);
      }
      return value;
    case 'object':
      return normalizeObject(value, schema.fields ?? {}, path);
  }
}

/** The name a key gets in a normalised object: its schema field's, else its first letter capitalised. */
function fieldNames(schema: PayloadSchema | undefined): (key: string) => string {
  if (schema === undefined) return (key) => key; // a payload of an unknown type keeps its keys
  const fieldsByLowerName = new Map(Object.keys(schema).map((name) => [name.toLowerCase(), name]));
  return (key) => fieldsByLowerName.get(key.toLowerCase()) ?? key.charAt(0).toUpperCase() + key.slice(1);
}

/**
 * Checks `value` against `schema` and returns a copy with PascalCase keys. Keys match their schema
 * field in any case (camelCase, PascalCase, mixed); fields the schema does not name are forwarded
 * with their first letter capitalised. Optional fields may be null or missing; nulls are kept.
 */
function normalizeObject(value: unknown, schema: PayloadSchema, path: string): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new ValidationError(path, `expected an object, got ${describe(value)}`);
  }
  const nameOf = fieldNames(schema);
  const result: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const name = nameOf(key);
    if (name === '__proto__') {
      continue; // never let input reach an object's prototype
    }
    if (Object.prototype.hasOwnProperty.call(result, name)) {
      throw new ValidationError(join(path, name), 'given twice in different letter cases');
    }
    const field = schema[name];
    result[name] =
      field === undefined || raw === null || raw === undefined
        ? raw
        : normalizeField(raw, field, join(path, name));
  }
  for (const [name, field] of Object.entries(schema)) {
    if (field.required && (result[name] === undefined || result[name] === null)) {
      throw new ValidationError(join(path, name), 'is required');
    }
  }
  return result;
}

/**
 * Refuses a value nested deeper than MAX_PAYLOAD_DEPTH or holding more than MAX_PAYLOAD_VALUES
 * values, naming the top-level field that nests too deep. Walks with an explicit stack: a
 * recursive walk would overflow on the very input it exists to refuse.
 */
function assertPayloadBounds(payload: unknown, schema: PayloadSchema | undefined, path: string): void {
  const nameOf = fieldNames(schema);
  const pending: { value: unknown; depth: number; field: string }[] = [
    { value: payload, depth: 1, field: path },
  ];
  let values = 0;
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    values += 1;
    if (values > MAX_PAYLOAD_VALUES) {
      throw new ValidationError(path, `holds more than ${MAX_PAYLOAD_VALUES} values`);
    }
    const { value, depth, field } = next;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_PAYLOAD_DEPTH) {
      throw new ValidationError(field, `nested more than ${MAX_PAYLOAD_DEPTH} levels deep`);
    }
    for (const [key, child] of Object.entries(value)) {
      const childField = depth === 1 ? join(path, nameOf(key)) : field;
      pending.push({ value: child, depth: depth + 1, field: childField });
    }
  }
}

/**
 * Validates and normalises a payload for `type`, after checking its depth and size. Throws
 * ValidationError naming the field at fault.
 */
export function normalizePayload<T extends PushType>(
  type: T,
  payload: unknown,
  path = 'payload',
): PushPayloads[T] {
  const schema = PAYLOAD_SCHEMAS[type];
  assertPayloadBounds(payload, schema, path);
  return normalizeObject(payload, schema, path) as unknown as PushPayloads[T];
}

/** The ids a payload of an unknown type is routed by (docs/routing.md), checked when present. */
const UNKNOWN_TYPE_ROUTING_FIELDS = ['UserId', 'OrganizationId'];

/**
 * Validates the payload of a type Herald does not know (28-255): a map within the same bounds as
 * every payload, forwarded as given (keys and values unchanged). Only what Herald routes by is
 * checked: `UserId` and `OrganizationId` (any letter case), when present and not null, must be GUIDs.
 * A key given twice in different letter cases is refused (clients read either case).
 */
export function normalizeUnknownPayload(payload: unknown, path = 'payload'): Record<string, unknown> {
  assertPayloadBounds(payload, undefined, path);
  if (!isPlainObject(payload)) {
    throw new ValidationError(path, `expected an object, got ${describe(payload)}`);
  }
  const result: Record<string, unknown> = {};
  const lowerKeys = new Set<string>();
  for (const [key, value] of Object.entries(payload)) {
    if (key === '__proto__') continue; // never let input reach an object's prototype
    if (lowerKeys.has(key.toLowerCase())) {
      throw new ValidationError(join(path, key), 'given twice in different letter cases');
    }
    lowerKeys.add(key.toLowerCase());
    const routedBy = UNKNOWN_TYPE_ROUTING_FIELDS.find((name) => name.toLowerCase() === key.toLowerCase());
    if (routedBy !== undefined && value !== null && value !== undefined && !isGuid(value)) {
      throw new ValidationError(join(path, key), `expected a GUID, got ${describe(value)}`);
    }
    result[key] = value;
  }
  return result;
}

/**
 * A payload of any type 0-255: a known type's is checked against its schema and normalised
 * (`normalizePayload`), an unknown type's is kept as given (`normalizeUnknownPayload`).
 */
export function normalizeAnyPayload(
  type: number,
  payload: unknown,
  path = 'payload',
): Record<string, unknown> {
  return isKnownPushType(type)
    ? (normalizePayload(type, payload, path) as unknown as Record<string, unknown>)
    : normalizeUnknownPayload(payload, path);
}

export function assertPushType(value: unknown, path = 'type'): number {
  if (!isPushType(value)) {
    throw new ValidationError(
      path,
      `invalid push type ${describe(value)} (expected an integer from 0 to ${MAX_PUSH_TYPE})`,
    );
  }
  return value;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a Date';
  if (typeof value === 'string') {
    return value.length > 40 ? `a ${value.length}-character string` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}
