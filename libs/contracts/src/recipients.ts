import { PushType } from './push-type';
import { isPlainObject, normalizeGuid } from './validation';
import { ValidationError } from './validation.error';

/**
 * Explicit recipients of an event, a Herald extension (docs/routing.md): when an event names them,
 * they replace the targets Bitwarden's rule for its type would pick. WIRE NAMES: `recipients` and
 * `users` are what `/send`, `@herald/publisher` and the EVENTS stream carry; renaming breaks producers.
 */
export interface EventRecipients {
  /** User ids (lowercase GUIDs, no duplicates, 1 to MAX_RECIPIENT_USERS): each user's `/hub` connections. */
  users: string[];
}

/** How many users one event may name. */
export const MAX_RECIPIENT_USERS = 10_000;

/**
 * Validates `recipients` for an event of `type`: `{users: [GUID, ...]}` in any letter case,
 * 1 to 10,000 users, returned lowercase without duplicates (first occurrence kept). Null or
 * undefined means none (undefined). Throws ValidationError naming the field at fault.
 */
export function normalizeRecipients(
  value: unknown,
  type: number,
  path = 'recipients',
): EventRecipients | undefined {
  if (value === null || value === undefined) return undefined;
  if (type === (PushType.AuthRequestResponse as number)) {
    throw new ValidationError(
      path,
      'AuthRequestResponse is routed to the anonymous hub by its Id; recipients are not allowed',
    );
  }
  if (!isPlainObject(value)) {
    throw new ValidationError(path, 'expected an object {users: [user ids]}');
  }
  let users: unknown;
  let seen = false;
  for (const [key, entry] of Object.entries(value)) {
    if (key.toLowerCase() !== 'users') {
      // A misspelt or unsupported key would otherwise route the event to nobody, silently.
      throw new ValidationError(`${path}.${key}`, 'unknown key (recipients carry only users)');
    }
    if (seen) throw new ValidationError(`${path}.users`, 'given twice in different letter cases');
    seen = true;
    users = entry;
  }
  const usersPath = `${path}.users`;
  if (!Array.isArray(users)) {
    throw new ValidationError(usersPath, 'expected an array of user ids');
  }
  if (users.length === 0 || users.length > MAX_RECIPIENT_USERS) {
    throw new ValidationError(
      usersPath,
      `expected 1 to ${MAX_RECIPIENT_USERS} user ids, got ${users.length}`,
    );
  }
  const unique = new Set(users.map((user, index) => normalizeGuid(user, `${usersPath}[${index}]`)));
  return { users: [...unique] };
}
