import { type AnyHeraldEvent, MAX_RECIPIENT_USERS, PushType } from '@herald/contracts';

/** One row of `herald_bridge.changes`, as the queue hands it out. */
export interface CapturedChange {
  /** The queue's bigserial id, as text. */
  id: string;
  table: string;
  op: 'INSERT' | 'UPDATE' | 'DELETE';
  /** The fields the trigger kept (see bridge-sql.ts), as to_jsonb wrote them. */
  fields: Record<string, unknown>;
  /** Organization items: who could see the item when it changed; null when not resolved. */
  recipients: string[] | null;
  createdAt: Date;
}

/**
 * What the bridge appends. Organization items name their recipients explicitly (a Herald
 * extension: the dispatcher routes to exactly these users, the payload unchanged), keeping
 * Vaultwarden's payload, `UserId` null and `OrganizationId` set; Vaultwarden's tokens carry no
 * organization claims, so no client would be in the organization's group.
 */
export type BridgeEvent = AnyHeraldEvent;

export interface EventOptions {
  /** herald_bridge.installation id; event ids are `vw-<installation>-<change id>`. */
  installationId: string;
  now: Date;
  /** More cipher changes than this for one user in one batch become one SyncVault (an import). */
  bulkThreshold: number;
}

export interface BatchEvents {
  events: BridgeEvent[];
  /** Changes that give no event, with why (logged at debug). */
  skipped: { id: string; reason: string }[];
}

const CIPHER_TYPES = new Set<PushType>([
  PushType.SyncCipherCreate,
  PushType.SyncCipherUpdate,
  PushType.SyncLoginDelete,
]);

interface Draft {
  change: CapturedChange;
  type: PushType;
  payload: Record<string, unknown>;
  /** Set for organization items: the users to reach. */
  users?: string[];
  /** The cipher a cipher event is about (for coalescing). */
  cipherId?: string;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim().length > 0 ? value.trim().toLowerCase() : null;
}

/**
 * Vaultwarden's timestamps are `timestamp without time zone` holding UTC; to_jsonb writes them
 * without a zone. Falls back to when the change was captured.
 */
function date(value: unknown, fallback: Date): Date {
  if (typeof value !== 'string') return fallback;
  const parsed = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  return Number.isNaN(parsed.getTime()) ? fallback : parsed;
}

function cipherType(change: CapturedChange): PushType {
  if (change.op === 'INSERT') return PushType.SyncCipherCreate;
  if (change.op === 'DELETE') return PushType.SyncLoginDelete;
  // A soft delete (deleted_at set) and a restore are updates, as Vaultwarden sends them.
  return PushType.SyncCipherUpdate;
}

const ITEM_TYPES: Record<string, Record<CapturedChange['op'], PushType>> = {
  folders: {
    INSERT: PushType.SyncFolderCreate,
    UPDATE: PushType.SyncFolderUpdate,
    DELETE: PushType.SyncFolderDelete,
  },
  sends: {
    INSERT: PushType.SyncSendCreate,
    UPDATE: PushType.SyncSendUpdate,
    DELETE: PushType.SyncSendDelete,
  },
};

/** The event Vaultwarden would have sent for one change, or why there is none. */
export function draftFor(change: CapturedChange): Draft | string {
  const f = change.fields;
  switch (change.table) {
    case 'ciphers': {
      const id = text(f.uuid);
      if (!id) return 'no cipher uuid';
      const org = text(f.organization_uuid);
      const user = text(f.user_uuid);
      const payload = {
        Id: id,
        UserId: org ? null : user,
        OrganizationId: org,
        CollectionIds: null,
        RevisionDate: date(f.updated_at, change.createdAt),
      };
      if (org)
        return { change, type: cipherType(change), payload, users: change.recipients ?? [], cipherId: id };
      if (!user) return 'a cipher of neither a user nor an organization';
      return { change, type: cipherType(change), payload, cipherId: id };
    }
    case 'attachments': {
      // Vaultwarden sends a cipher update when an attachment is added or removed.
      const draft = draftFor({ ...change, table: 'ciphers', op: 'UPDATE' });
      return typeof draft === 'string' ? draft : { ...draft, change };
    }
    case 'ciphers_collections': {
      const id = text(f.cipher_uuid);
      const org = text(f.organization_uuid);
      if (!id || !org) return 'no cipher or organization';
      const collections = Array.isArray(f.collection_ids)
        ? f.collection_ids.map(text).filter((value): value is string => value !== null)
        : [];
      // As Vaultwarden's collection update: UserId null, the collections, and now as the date, so
      // clients re-read the cipher.
      return {
        change,
        type: PushType.SyncCipherUpdate,
        payload: {
          Id: id,
          UserId: null,
          OrganizationId: org,
          CollectionIds: collections,
          RevisionDate: change.createdAt,
        },
        users: change.recipients ?? [],
        cipherId: id,
      };
    }
    case 'folders_ciphers':
    case 'favorites': {
      // Moving a cipher between folders or (un)marking a favourite changes only that user's view.
      const id = text(f.cipher_uuid);
      const user = text(f.user_uuid);
      if (!id || !user) return 'no cipher or user';
      const org = text(f.organization_uuid);
      return {
        change,
        type: PushType.SyncCipherUpdate,
        payload: {
          Id: id,
          UserId: org ? null : user,
          OrganizationId: org,
          CollectionIds: null,
          RevisionDate: date(f.updated_at, change.createdAt),
        },
        ...(org ? { users: [user] } : {}),
        cipherId: id,
      };
    }
    case 'folders':
    case 'sends': {
      const id = text(f.uuid);
      const user = text(f.user_uuid);
      if (!id || !user)
        return `a ${change.table} row without uuid or user (organization sends are not notified)`;
      const revision = change.table === 'folders' ? f.updated_at : f.revision_date;
      return {
        change,
        type: ITEM_TYPES[change.table]![change.op],
        payload: { Id: id, UserId: user, RevisionDate: date(revision, change.createdAt) },
      };
    }
    case 'auth_requests': {
      const id = text(f.uuid);
      const user = text(f.user_uuid);
      if (!id || !user) return 'an auth request without uuid or user';
      return {
        change,
        type: change.op === 'INSERT' ? PushType.AuthRequest : PushType.AuthRequestResponse,
        payload: { Id: id, UserId: user },
      };
    }
    case 'users': {
      const user = text(f.uuid);
      if (!user) return 'a user without uuid';
      // Vaultwarden's LogOut carries the user's revision date as Date.
      return {
        change,
        type: PushType.LogOut,
        payload: { UserId: user, Date: date(f.updated_at, change.createdAt) },
      };
    }
    default:
      return `table ${change.table} is not captured`;
  }
}

function chunks<T>(values: T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let start = 0; start < values.length; start += size) parts.push(values.slice(start, start + size));
  return parts;
}

/** The users a cipher draft reaches. */
function audience(draft: Draft): string[] {
  if (draft.users) return draft.users;
  const user = draft.payload.UserId;
  return typeof user === 'string' ? [user] : [];
}

/**
 * The events for one batch of changes, in queue order:
 * - a cipher deleted in this batch: the batch's earlier updates of it are dropped (Vaultwarden
 *   removes a cipher's folders and collections before the cipher itself);
 * - more than `bulkThreshold` cipher events for one user (an import, a bulk move): that user gets
 *   one SyncVault instead, as Vaultwarden sends after an import;
 * - an organization item nobody may see gives no event.
 */
export function eventsForBatch(changes: readonly CapturedChange[], options: EventOptions): BatchEvents {
  const skipped: BatchEvents['skipped'] = [];
  let drafts: Draft[] = [];
  for (const change of changes) {
    const draft = draftFor(change);
    if (typeof draft === 'string') skipped.push({ id: change.id, reason: draft });
    else drafts.push(draft);
  }

  const deletedAt = new Map<string, number>();
  drafts.forEach((draft, index) => {
    if (draft.type === PushType.SyncLoginDelete && draft.cipherId) deletedAt.set(draft.cipherId, index);
  });
  drafts = drafts.filter((draft, index) => {
    const deleted = draft.cipherId === undefined ? undefined : deletedAt.get(draft.cipherId);
    const superseded = deleted !== undefined && index < deleted;
    if (superseded) skipped.push({ id: draft.change.id, reason: 'the cipher is deleted later in the batch' });
    return !superseded;
  });

  const cipherCounts = new Map<string, { count: number; first: string }>();
  for (const draft of drafts) {
    if (!CIPHER_TYPES.has(draft.type)) continue;
    for (const user of audience(draft)) {
      const entry = cipherCounts.get(user) ?? { count: 0, first: draft.change.id };
      entry.count += 1;
      cipherCounts.set(user, entry);
    }
  }
  const bulk = new Set(
    [...cipherCounts].filter(([, entry]) => entry.count > options.bulkThreshold).map(([user]) => user),
  );

  const events: BridgeEvent[] = [];
  const prefix = `vw-${options.installationId}`;
  for (const draft of drafts) {
    let users = draft.users;
    if (CIPHER_TYPES.has(draft.type) && bulk.size > 0) {
      if (users) users = users.filter((user) => !bulk.has(user));
      else if (audience(draft).some((user) => bulk.has(user))) continue;
    }
    if (users && users.length === 0) {
      skipped.push({ id: draft.change.id, reason: 'nobody may see this organization item' });
      continue;
    }
    // An event names at most MAX_RECIPIENT_USERS users: a larger audience takes several events.
    const parts = users ? chunks([...users].sort(), MAX_RECIPIENT_USERS) : [undefined];
    parts.forEach((part, index) => {
      events.push({
        id: `${prefix}-${draft.change.id}${index === 0 ? '' : `-${index + 1}`}`,
        type: draft.type,
        payload: draft.payload,
        contextId: null,
        acceptedAt: options.now,
        // draftFor built the payload Vaultwarden sends for this type.
        ...(part ? { recipients: { users: part } } : {}),
      });
    });
  }
  for (const user of [...bulk].sort()) {
    events.push({
      id: `${prefix}-${cipherCounts.get(user)!.first}-vault-${user}`,
      type: PushType.SyncVault,
      payload: { UserId: user, Date: options.now },
      contextId: null,
      acceptedAt: options.now,
    });
  }
  return { events, skipped };
}
