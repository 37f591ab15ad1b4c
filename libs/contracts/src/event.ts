import { type PushPayloads } from './payloads';
import { isKnownPushType, type PushType } from './push-type';
import { type EventRecipients, normalizeRecipients } from './recipients';
import { ValidationError } from './validation.error';
import { assertPushType, isPlainObject, normalizeAnyPayload } from './validation';

/**
 * One vault event as it is stored in the EVENTS stream. WIRE SHAPE: these keys are what every
 * producer (gateway `/send`, `@herald/publisher`) writes and the dispatcher reads.
 */
export interface HeraldEvent<T extends PushType = PushType> {
  /** Unique per event; also the `Nats-Msg-Id`, so a retried publish is stored once. */
  id: string;
  type: T;
  payload: PushPayloads[T];
  /** Identifier of the device that caused the change (clients ignore their own), or null. */
  contextId: string | null;
  /** When Herald first accepted the event. */
  acceptedAt: Date;
  /**
   * Explicit recipients (a Herald extension): they replace the targets of the type's rule. Absent
   * when not given, never an empty object; events stored before the extension have none.
   */
  recipients?: EventRecipients;
}

/**
 * An event of a type Herald does not know (28-255, e.g. a type from a newer Bitwarden): the same
 * keys, with the payload forwarded as given. It is routed by `UserId`, else `OrganizationId`.
 */
export interface UnknownTypeEvent extends Omit<HeraldEvent, 'type' | 'payload'> {
  type: number;
  payload: Record<string, unknown>;
}

export type KnownHeraldEvent = { [T in PushType]: HeraldEvent<T> }[PushType];

export type AnyHeraldEvent = KnownHeraldEvent | UnknownTypeEvent;

/** True for an event of a type Herald knows (0-27), whose payload is typed by its type. */
export function isKnownEvent(event: AnyHeraldEvent): event is KnownHeraldEvent {
  return isKnownPushType(event.type);
}

/** What `/send` carries, in any of Bitwarden's JSON dialects, once parsed: the payload typed by its type. */
export type SendRequest =
  | {
      [T in PushType]: {
        type: T;
        payload: PushPayloads[T];
        contextId: string | null;
        recipients?: EventRecipients;
      };
    }[PushType]
  | {
      type: number;
      payload: Record<string, unknown>;
      contextId: string | null;
      recipients?: EventRecipients;
    };

const MAX_CONTEXT_ID_LENGTH = 256;
/** Longest event id `validateEvent` takes; an idempotency key becomes the event id. */
export const MAX_EVENT_ID_LENGTH = 128;
/** Visible ASCII except `"` and `\`: safe as a `Nats-Msg-Id`, and unambiguous inside quotes. */
const IDEMPOTENCY_KEY = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function readKey(body: Record<string, unknown>, name: string, path: string): unknown {
  const matches = Object.keys(body).filter((key) => key.toLowerCase() === name);
  if (matches.length > 1) {
    throw new ValidationError(path, 'given twice in different letter cases');
  }
  const key = matches[0];
  return key === undefined ? undefined : body[key];
}

export function normalizeContextId(value: unknown, path = 'contextId'): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  if (typeof value !== 'string' || value.length > MAX_CONTEXT_ID_LENGTH) {
    throw new ValidationError(path, 'expected a string of at most 256 characters or null');
  }
  return value.length === 0 ? null : value;
}

/**
 * Parses the vault API's `/send` envelope `{type, payload, contextId}`, plus Herald's optional
 * `recipients: {users: [...]}`: camelCase with nulls, PascalCase with nulls omitted, or mixed.
 * Throws ValidationError naming the field at fault.
 */
export function parseSendRequest(body: unknown): SendRequest {
  if (!isPlainObject(body)) {
    throw new ValidationError('', 'the body must be a JSON object {type, payload, contextId}');
  }
  const type = assertPushType(readKey(body, 'type', 'type'));
  const payload = normalizeAnyPayload(type, readKey(body, 'payload', 'payload'));
  const contextId = normalizeContextId(readKey(body, 'contextid', 'contextId'));
  const recipients = normalizeRecipients(readKey(body, 'recipients', 'recipients'), type);
  return recipients ? { type, payload, contextId, recipients } : { type, payload, contextId };
}

/**
 * The `Idempotency-Key` request header of `/send` (undefined when absent): 1 to 128 visible ASCII
 * characters other than `"` and `\`, bare (`abc`) or as a structured-field string (`"abc"`, the
 * IETF draft's form), both the same key. It becomes the event id, so JetStream's duplicate window
 * stores a retried request once. Throws ValidationError at path `Idempotency-Key`.
 */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key =
    header.length >= 2 && header.startsWith('"') && header.endsWith('"') ? header.slice(1, -1) : header;
  if (key.length === 0 || key.length > MAX_EVENT_ID_LENGTH || !IDEMPOTENCY_KEY.test(key)) {
    throw new ValidationError(
      'Idempotency-Key',
      `expected 1 to ${MAX_EVENT_ID_LENGTH} visible ASCII characters other than '"' and '\\', optionally in double quotes`,
    );
  }
  return key;
}

/** Re-validates an event decoded from the wire; the dispatcher dead-letters what this rejects. */
export function validateEvent(value: unknown): AnyHeraldEvent {
  if (!isPlainObject(value)) {
    throw new ValidationError('', 'an event must be a map');
  }
  const { id, type, payload, contextId, acceptedAt, recipients } = value;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_EVENT_ID_LENGTH) {
    throw new ValidationError(
      'id',
      `expected a non-empty string of at most ${MAX_EVENT_ID_LENGTH} characters`,
    );
  }
  if (!(acceptedAt instanceof Date) || Number.isNaN(acceptedAt.getTime())) {
    throw new ValidationError('acceptedAt', 'expected a timestamp');
  }
  const pushType = assertPushType(type);
  const event = {
    id,
    type: pushType,
    payload: normalizeAnyPayload(pushType, payload),
    contextId: normalizeContextId(contextId),
    acceptedAt,
  } as AnyHeraldEvent;
  const listed = normalizeRecipients(recipients, pushType);
  return listed ? { ...event, recipients: listed } : event;
}
