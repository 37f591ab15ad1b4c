/**
 * The SQL the bridge installs in Vaultwarden's PostgreSQL database: a schema of its own holding the
 * queue of captured changes, and row triggers on Vaultwarden's tables that fill it. Nothing of
 * Vaultwarden's is altered: the triggers read rows through `to_jsonb(NEW)` / `to_jsonb(OLD)` (a
 * renamed or dropped column reads as null instead of failing Vaultwarden's write), and every
 * trigger body catches its own errors (a failure is a WARNING in PostgreSQL's log, never a failed
 * write). WIRE NAMES: the schema, table, channel and trigger names are what installed databases
 * hold; renaming one orphans what an older bridge installed.
 */

/** The schema that holds the queue and the functions. */
export const BRIDGE_SCHEMA = 'herald_bridge';
/** The trigger name on every captured table. */
export const TRIGGER_NAME = 'herald_bridge_capture';
/** `pg_notify` channel the triggers wake the bridge on. */
export const NOTIFY_CHANNEL = 'herald_bridge_changes';
/** Key of the session advisory lock the working bridge holds (any number is fine; this one is ours). */
export const LEADER_LOCK_KEY = 7_214_339_001;
/** Key of the transaction advisory lock that serialises concurrent installs. */
const INSTALL_LOCK_KEY = 7_214_339_002;

/**
 * Vaultwarden's tables the bridge captures, the statements it listens to on each, and a trigger
 * condition where most updates matter not: Vaultwarden updates every affected user's row (its
 * revision date) on each change, and only a new security stamp concerns the bridge. The condition
 * reads the rows whole (to_jsonb), so it holds no dependency on a column Vaultwarden may drop.
 */
export const CAPTURED_TABLES: readonly { table: string; events: string; when?: string }[] = [
  { table: 'ciphers', events: 'INSERT OR UPDATE OR DELETE' },
  { table: 'ciphers_collections', events: 'INSERT OR DELETE' },
  { table: 'folders', events: 'INSERT OR UPDATE OR DELETE' },
  { table: 'folders_ciphers', events: 'INSERT OR DELETE' },
  { table: 'favorites', events: 'INSERT OR DELETE' },
  { table: 'attachments', events: 'INSERT OR DELETE' },
  { table: 'sends', events: 'INSERT OR UPDATE OR DELETE' },
  { table: 'auth_requests', events: 'INSERT OR UPDATE' },
  {
    table: 'users',
    events: 'UPDATE',
    when: "to_jsonb(OLD)->'security_stamp' IS DISTINCT FROM to_jsonb(NEW)->'security_stamp'",
  },
];

const S = BRIDGE_SCHEMA;

/**
 * Who may see an organization's cipher, by Vaultwarden's own rules: owners and admins (atype 0,
 * 1), members with access to all collections, members of a collection that holds the cipher
 * (directly or through a group), members of a group with access to all. `access_all` is read
 * through to_jsonb, so a Vaultwarden that drops the column still gets an answer. plpgsql, not SQL:
 * its body is checked when it runs, so installing never fails on a table Vaultwarden lacks.
 */
const CIPHER_RECIPIENTS = `
CREATE OR REPLACE FUNCTION ${S}.cipher_recipients(p_cipher text, p_org text) RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $fn$
DECLARE
  found text[];
BEGIN
  SELECT coalesce(array_agg(DISTINCT member.user_uuid), '{}') INTO found FROM (
    SELECT uo.user_uuid FROM users_organizations uo
     WHERE uo.org_uuid = p_org
       AND (uo.atype IN (0, 1) OR coalesce((to_jsonb(uo)->>'access_all')::boolean, false))
    UNION
    SELECT uo.user_uuid FROM users_organizations uo
      JOIN users_collections uc ON uc.user_uuid = uo.user_uuid
      JOIN ciphers_collections cc ON cc.collection_uuid = uc.collection_uuid
     WHERE uo.org_uuid = p_org AND cc.cipher_uuid = p_cipher
    UNION
    SELECT uo.user_uuid FROM users_organizations uo
      JOIN groups_users gu ON gu.users_organizations_uuid = uo.uuid
      JOIN groups g ON g.uuid = gu.groups_uuid AND g.organizations_uuid = uo.org_uuid
     WHERE uo.org_uuid = p_org AND coalesce((to_jsonb(g)->>'access_all')::boolean, false)
    UNION
    SELECT uo.user_uuid FROM users_organizations uo
      JOIN groups_users gu ON gu.users_organizations_uuid = uo.uuid
      JOIN collections_groups cg ON cg.groups_uuid = gu.groups_uuid
      JOIN ciphers_collections cc ON cc.collection_uuid = cg.collections_uuid
     WHERE uo.org_uuid = p_org AND cc.cipher_uuid = p_cipher
  ) member;
  RETURN found;
END
$fn$;`;

/** Who reaches a collection's ciphers through that collection (directly or through a group). */
const COLLECTION_RECIPIENTS = `
CREATE OR REPLACE FUNCTION ${S}.collection_recipients(p_collection text, p_org text) RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $fn$
DECLARE
  found text[];
BEGIN
  SELECT coalesce(array_agg(DISTINCT member.user_uuid), '{}') INTO found FROM (
    SELECT uo.user_uuid FROM users_organizations uo
      JOIN users_collections uc ON uc.user_uuid = uo.user_uuid
     WHERE uo.org_uuid = p_org AND uc.collection_uuid = p_collection
    UNION
    SELECT uo.user_uuid FROM users_organizations uo
      JOIN groups_users gu ON gu.users_organizations_uuid = uo.uuid
      JOIN collections_groups cg ON cg.groups_uuid = gu.groups_uuid
     WHERE uo.org_uuid = p_org AND cg.collections_uuid = p_collection
  ) member;
  RETURN found;
END
$fn$;`;

/**
 * The trigger body. One row in `changes` per captured row change, with the fields the bridge needs
 * and, for organization items, the users who may see the item at the time of the change. A
 * failure to resolve recipients records them as NULL (the bridge resolves them when it publishes);
 * any other failure while reading is a WARNING and the change is not captured, as is a change
 * while the queue table is missing: Vaultwarden's write goes on. The one statement not guarded is
 * the insert into the bridge's own queue (see below).
 */
const CAPTURE = `
CREATE OR REPLACE FUNCTION ${S}.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
  new_row jsonb;
  old_row jsonb;
  r jsonb;
  fields jsonb;
  recipients text[];
  org text;
  cipher jsonb;
BEGIN
  BEGIN
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
    r := coalesce(new_row, old_row);
    CASE TG_TABLE_NAME
    WHEN 'ciphers' THEN
      org := r->>'organization_uuid';
      fields := jsonb_build_object('uuid', r->'uuid', 'user_uuid', r->'user_uuid',
        'organization_uuid', r->'organization_uuid', 'updated_at', r->'updated_at',
        'deleted_at', r->'deleted_at', 'old_user_uuid', old_row->'user_uuid');
      IF org IS NOT NULL THEN
        BEGIN
          recipients := ${S}.cipher_recipients(r->>'uuid', org);
          IF TG_OP = 'DELETE' THEN
            -- Vaultwarden removes the cipher's collections first: whoever those removals reached
            -- (still waiting in the queue) also hears of the delete.
            recipients := recipients || coalesce((SELECT array_agg(DISTINCT u)
              FROM ${S}.changes c, unnest(c.recipients) u
              WHERE c.table_name = 'ciphers_collections' AND c.fields->>'cipher_uuid' = r->>'uuid'), '{}');
          END IF;
          IF old_row->>'user_uuid' IS NOT NULL THEN
            -- Moved from a user's vault into the organization: its former owner hears of it too.
            recipients := recipients || ARRAY[old_row->>'user_uuid'];
          END IF;
        EXCEPTION WHEN OTHERS THEN
          RAISE WARNING 'herald bridge: recipients of cipher % not resolved: %', r->>'uuid', SQLERRM;
          recipients := NULL;
        END;
      END IF;
    WHEN 'ciphers_collections' THEN
      SELECT c->>'org_uuid' INTO org FROM (SELECT to_jsonb(col) c FROM collections col
        WHERE col.uuid = r->>'collection_uuid') found;
      fields := jsonb_build_object('cipher_uuid', r->'cipher_uuid',
        'collection_uuid', r->'collection_uuid', 'organization_uuid', org,
        'collection_ids', (SELECT coalesce(jsonb_agg(cc.collection_uuid ORDER BY cc.collection_uuid), '[]')
          FROM ciphers_collections cc WHERE cc.cipher_uuid = r->>'cipher_uuid'));
      IF org IS NULL THEN RETURN NULL; END IF;
      BEGIN
        recipients := ${S}.cipher_recipients(r->>'cipher_uuid', org);
        IF TG_OP = 'DELETE' THEN
          -- Those who just lost the cipher with this collection hear of it as well.
          recipients := recipients || ${S}.collection_recipients(r->>'collection_uuid', org);
        END IF;
      EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'herald bridge: recipients of cipher % not resolved: %', r->>'cipher_uuid', SQLERRM;
        recipients := NULL;
      END;
    WHEN 'folders' THEN
      fields := jsonb_build_object('uuid', r->'uuid', 'user_uuid', r->'user_uuid', 'updated_at', r->'updated_at');
    WHEN 'folders_ciphers', 'favorites' THEN
      SELECT to_jsonb(c) INTO cipher FROM ciphers c WHERE c.uuid = r->>'cipher_uuid';
      IF cipher IS NULL THEN RETURN NULL; END IF;
      IF TG_TABLE_NAME = 'favorites' THEN
        fields := jsonb_build_object('user_uuid', r->'user_uuid');
      ELSE
        SELECT jsonb_build_object('user_uuid', to_jsonb(f)->'user_uuid') INTO fields
          FROM folders f WHERE f.uuid = r->>'folder_uuid';
        IF fields IS NULL THEN RETURN NULL; END IF;
      END IF;
      fields := fields || jsonb_build_object('cipher_uuid', cipher->'uuid',
        'organization_uuid', cipher->'organization_uuid', 'cipher_user_uuid', cipher->'user_uuid',
        'updated_at', cipher->'updated_at');
    WHEN 'attachments' THEN
      -- An attachment added or removed: the cipher changed for everyone who sees it.
      SELECT to_jsonb(c) INTO cipher FROM ciphers c WHERE c.uuid = r->>'cipher_uuid';
      IF cipher IS NULL THEN RETURN NULL; END IF;
      org := cipher->>'organization_uuid';
      fields := jsonb_build_object('uuid', cipher->'uuid', 'user_uuid', cipher->'user_uuid',
        'organization_uuid', cipher->'organization_uuid', 'updated_at', cipher->'updated_at');
      IF org IS NOT NULL THEN
        BEGIN
          recipients := ${S}.cipher_recipients(cipher->>'uuid', org);
        EXCEPTION WHEN OTHERS THEN
          RAISE WARNING 'herald bridge: recipients of cipher % not resolved: %', cipher->>'uuid', SQLERRM;
          recipients := NULL;
        END;
      END IF;
    WHEN 'sends' THEN
      fields := jsonb_build_object('uuid', r->'uuid', 'user_uuid', r->'user_uuid', 'revision_date', r->'revision_date');
    WHEN 'auth_requests' THEN
      IF TG_OP = 'UPDATE' AND (new_row->'approved' IS NULL OR new_row->'approved' = 'null'::jsonb
          OR new_row->'approved' IS NOT DISTINCT FROM old_row->'approved') THEN
        RETURN NULL;
      END IF;
      fields := jsonb_build_object('uuid', r->'uuid', 'user_uuid', r->'user_uuid', 'approved', r->'approved');
    WHEN 'users' THEN
      IF new_row->'security_stamp' IS NOT DISTINCT FROM old_row->'security_stamp' THEN RETURN NULL; END IF;
      fields := jsonb_build_object('uuid', r->'uuid', 'updated_at', r->'updated_at');
    ELSE
      RETURN NULL;
    END CASE;
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'herald bridge: a change to % was not captured: %', TG_TABLE_NAME, SQLERRM;
    RETURN NULL;
  END;
  -- The write is outside the guarded block: a subtransaction that writes takes a transaction id
  -- of its own, and an import of thousands of rows would overflow PostgreSQL's per-transaction
  -- cache of them (64), slowing every concurrent snapshot. The guarded block above only reads.
  IF to_regclass('${S}.changes') IS NULL THEN
    RAISE WARNING 'herald bridge: %.changes is missing; a change to % was not captured', '${S}', TG_TABLE_NAME;
    RETURN NULL;
  END IF;
  INSERT INTO ${S}.changes (table_name, op, fields, recipients)
    VALUES (TG_TABLE_NAME, TG_OP, fields, (SELECT array_agg(DISTINCT u) FROM unnest(recipients) u));
  PERFORM pg_notify('${NOTIFY_CHANNEL}', '');
  RETURN NULL;
END
$fn$;`;

/** Creates or repairs everything: safe to run any number of times, by several bridges at once. */
export function installSql(): string {
  const tables = CAPTURED_TABLES.map(
    ({ table, events, when }) => `('${table}', '${events}', ${when ? `$when$WHEN (${when})$when$` : "''"})`,
  ).join(', ');
  return `BEGIN;
SELECT pg_advisory_xact_lock(${INSTALL_LOCK_KEY});
CREATE SCHEMA IF NOT EXISTS ${S};
CREATE TABLE IF NOT EXISTS ${S}.changes (
  id bigserial PRIMARY KEY,
  table_name text NOT NULL,
  op text NOT NULL,
  fields jsonb NOT NULL,
  recipients text[],
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- One random id per installation: event ids are vw-<installation>-<change id>, so a reinstalled
-- queue (ids from 1 again) or a second Vaultwarden on the same Herald never collides in
-- JetStream's duplicate window.
CREATE TABLE IF NOT EXISTS ${S}.installation (
  id text PRIMARY KEY,
  installed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ${S}.installation (id)
  SELECT substr(md5(random()::text || clock_timestamp()::text), 1, 12)
  WHERE NOT EXISTS (SELECT 1 FROM ${S}.installation);
${CIPHER_RECIPIENTS}
${COLLECTION_RECIPIENTS}
${CAPTURE}
-- The functions run as their owner (SECURITY DEFINER), so Vaultwarden's role needs no grant on
-- the schema; they look Vaultwarden's tables up in the schema they were installed from.
DO $install$
DECLARE
  t record;
BEGIN
  EXECUTE format('ALTER FUNCTION ${S}.capture() SET search_path = %I, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION ${S}.cipher_recipients(text, text) SET search_path = %I, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION ${S}.collection_recipients(text, text) SET search_path = %I, pg_temp', current_schema());
  FOR t IN SELECT * FROM (VALUES ${tables}) AS captured(name, events, condition) LOOP
    IF to_regclass(quote_ident(t.name)) IS NULL THEN
      RAISE WARNING 'herald bridge: table % not found; its changes are not captured', t.name;
      CONTINUE;
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS ${TRIGGER_NAME} ON %I', t.name);
    EXECUTE format('CREATE TRIGGER ${TRIGGER_NAME} AFTER %s ON %I FOR EACH ROW %s EXECUTE FUNCTION ${S}.capture()',
      t.events, t.name, t.condition);
  END LOOP;
END
$install$;
COMMIT;
`;
}

/** Removes the triggers, the functions and the schema (with any change not yet published). */
export function uninstallSql(): string {
  const drops = CAPTURED_TABLES.map(
    ({ table }) =>
      `  IF to_regclass('${table}') IS NOT NULL THEN EXECUTE 'DROP TRIGGER IF EXISTS ${TRIGGER_NAME} ON ${table}'; END IF;`,
  ).join('\n');
  return `BEGIN;
DO $uninstall$
BEGIN
${drops}
END
$uninstall$;
DROP SCHEMA IF EXISTS ${S} CASCADE;
COMMIT;
`;
}

/** Captured tables that exist but lack the trigger (a migration that recreated one drops it). */
export const MISSING_TRIGGERS_SQL = `
SELECT captured.name AS table_name, to_regclass(quote_ident(captured.name)) IS NOT NULL AS table_exists
  FROM unnest($1::text[]) AS captured(name)
 WHERE to_regclass(quote_ident(captured.name)) IS NULL
    OR NOT EXISTS (SELECT 1 FROM pg_trigger tg
                    WHERE tg.tgrelid = to_regclass(quote_ident(captured.name))
                      AND tg.tgname = '${TRIGGER_NAME}')
    OR to_regprocedure('${S}.capture()') IS NULL`;
