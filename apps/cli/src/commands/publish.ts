import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';

import { devKeyPaths, mintDevToken } from '@herald/auth';
import {
  isKnownPushType,
  isPushType,
  MAX_PUSH_TYPE,
  PAYLOAD_SCHEMAS,
  PushType,
  ValidationError,
} from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';

import { type Command, CommandError, dataDirOf, guidOption, parse, request, UsageError } from '../cli';

const TYPE_NAMES = Object.keys(PushType).filter((key) => Number.isNaN(Number(key)));

const USAGE = `herald publish <type> [--user ID] [--org ID] [--installation ID] [--id ID] [--payload JSON]
                      [--recipient ID ...] [--context-id ID] [--key KEY]
                      [--url URL [--token TOKEN] | --nats URL [--namespace NS]]

Publishes one event to a running Herald, as a vault API would. <type> is Bitwarden's push type,
by name (SyncVault, LogOut, SyncCipherUpdate, ...) or number (0-${MAX_PUSH_TYPE}: a number Herald
does not know is sent with the payload as given and routed by its UserId, else its OrganizationId).
The payload is built from the options (UserId, OrganizationId, InstallationId, Id; dates are now)
and --payload's fields on top.

Over HTTP (the default): POST <url>/send with an internal token; without --token one is minted
with the development key. Over NATS (--nats): straight into the EVENTS stream.

Options:
  --user ID          UserId
  --org ID           OrganizationId
  --installation ID  InstallationId
  --id ID            Id (the cipher, folder, send or auth request; default a new GUID)
  --payload JSON     more payload fields, e.g. '{"Reason":1}'
  --recipient ID     send to this user instead of the type's targets (repeat for more users;
                     Herald's explicit recipients, not allowed for AuthRequestResponse)
  --context-id ID    the device that made the change (its own clients ignore it)
  --key KEY          idempotency key: the event's id, so a retry with the same key within two
                     minutes is stored once (HTTP: the Idempotency-Key header)
  --url URL          Herald's base URL (default http://localhost:8080)
  --token TOKEN      an internal token (scope internal) for /send
  --nats URL         publish over NATS instead, e.g. nats://127.0.0.1:4222
  --namespace NS     Herald's namespace on NATS (default herald)
  --data-dir DIR     where the development key pair is (default HERALD_DATA_DIR or .herald-data)

Types: ${TYPE_NAMES.join(', ')}`;

/** A type by name, or any number 0-255 (known to Herald or not). */
export function parsePushType(value: string): number {
  const byName = TYPE_NAMES.find((name) => name.toLowerCase() === value.toLowerCase());
  if (byName) return PushType[byName as keyof typeof PushType];
  const number = Number(value);
  if (/^\d+$/.test(value) && isPushType(number)) return number;
  throw new UsageError(
    `unknown push type "${value}" (one of ${TYPE_NAMES.join(', ')}, or a number from 0 to ${MAX_PUSH_TYPE})`,
    USAGE,
  );
}

function describeType(type: number): string {
  return isKnownPushType(type) ? PushType[type] : `type ${type}`;
}

/**
 * The payload for `type` from the options: identifiers where the type has them, dates now. A type
 * Herald does not know has no schema: every identifier given becomes its field.
 */
export function buildPayload(
  type: number,
  given: { user?: string; org?: string; installation?: string; id?: string },
  extra: Record<string, unknown>,
): Record<string, unknown> {
  if (!isKnownPushType(type)) {
    const ids = {
      UserId: given.user,
      OrganizationId: given.org,
      InstallationId: given.installation,
      Id: given.id,
    };
    return {
      ...Object.fromEntries(Object.entries(ids).filter(([, value]) => value !== undefined)),
      ...extra,
    };
  }
  const schema = PAYLOAD_SCHEMAS[type];
  const now = new Date().toISOString();
  const payload: Record<string, unknown> = {};
  for (const [field, spec] of Object.entries(schema)) {
    if (field === 'UserId' && given.user) payload[field] = given.user;
    else if (field === 'OrganizationId' && given.org) payload[field] = given.org;
    else if (field === 'InstallationId' && given.installation) payload[field] = given.installation;
    else if (field === 'Id') payload[field] = given.id ?? randomUUID();
    else if (spec.kind === 'date' && spec.required) payload[field] = now;
  }
  const unused = [
    ['user', 'UserId'],
    ['org', 'OrganizationId'],
    ['installation', 'InstallationId'],
  ].filter(([option, field]) => given[option as keyof typeof given] && !(field! in schema));
  if (unused.length > 0) {
    throw new UsageError(
      `${PushType[type]} has no ${unused.map(([, field]) => field).join(' or ')}; its payload fields are ${Object.keys(schema).join(', ')}`,
      USAGE,
    );
  }
  return { ...payload, ...extra };
}

export const publishCommand: Command = {
  name: 'publish',
  summary: 'publish an event to a running Herald (HTTP /send or NATS)',
  usage: USAGE,
  async run(args, output) {
    const { values, positionals } = parse(
      args,
      {
        user: { type: 'string' },
        org: { type: 'string' },
        installation: { type: 'string' },
        id: { type: 'string' },
        payload: { type: 'string' },
        recipient: { type: 'string', multiple: true },
        'context-id': { type: 'string' },
        key: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        nats: { type: 'string' },
        namespace: { type: 'string', default: 'herald' },
        'data-dir': { type: 'string' },
      },
      USAGE,
    );
    const [typeName, ...extra] = positionals;
    if (!typeName) throw new UsageError('which event type? e.g. herald publish SyncVault --user <id>', USAGE);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, USAGE);
    if (values.nats && (values.url || values.token)) {
      throw new UsageError('--nats publishes over NATS; --url and --token are for HTTP', USAGE);
    }
    const type = parsePushType(typeName);
    let extraFields: Record<string, unknown> = {};
    if (values.payload !== undefined) {
      let parsedPayload: unknown;
      try {
        parsedPayload = JSON.parse(values.payload);
      } catch (error) {
        throw new UsageError(`--payload is not JSON: ${(error as Error).message}`, USAGE);
      }
      if (typeof parsedPayload !== 'object' || parsedPayload === null || Array.isArray(parsedPayload)) {
        throw new UsageError('--payload must be a JSON object', USAGE);
      }
      extraFields = parsedPayload as Record<string, unknown>;
    }
    const payload = buildPayload(
      type,
      {
        user: guidOption('user', values.user, USAGE),
        org: guidOption('org', values.org, USAGE),
        installation: guidOption('installation', values.installation, USAGE),
        id: guidOption('id', values.id, USAGE),
      },
      extraFields,
    );
    const contextId = values['context-id'] ?? null;
    const users = (values.recipient ?? []).map((user) => guidOption('recipient', user, USAGE)!);
    const recipients = users.length > 0 ? { users } : undefined;

    if (values.nats) {
      let publisher: HeraldPublisher;
      try {
        publisher = await HeraldPublisher.connect({
          servers: values.nats,
          namespace: values.namespace,
          timeoutMs: 5000,
        });
      } catch (error) {
        throw new CommandError(`cannot reach NATS at ${values.nats}: ${(error as Error).message}`);
      }
      try {
        const receipt = await publisher.publish(type, payload, { contextId, recipients });
        output.out(`published ${describeType(type)} ${receipt.id} (EVENTS sequence ${receipt.sequence})`);
        return 0;
      } catch (error) {
        if (error instanceof ValidationError)
          throw new UsageError(`invalid payload: ${error.message}`, USAGE);
        throw new CommandError(`NATS refused the event: ${(error as Error).message}`);
      } finally {
        await publisher.close();
      }
    }

    const base = (values.url ?? 'http://localhost:8080').replace(/\/+$/, '');
    let token = values.token;
    if (!token) {
      const dataDir = dataDirOf(values['data-dir']);
      if (!existsSync(devKeyPaths(dataDir).privateKeyPath)) {
        throw new UsageError(
          `no --token, and no development key in ${devKeyPaths(dataDir).dataDir} to mint one: pass --token <an internal token your identity server issued>`,
          USAGE,
        );
      }
      token = await mintDevToken(dataDir, { kind: 'internal', expiresIn: 300 });
    }
    const response = await request(`${base}/send`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${token}`,
        ...(values.key ? { 'Idempotency-Key': values.key } : {}),
      },
      body: JSON.stringify({ type, payload, contextId, ...(recipients ? { recipients } : {}) }),
    });
    if (response.ok) {
      output.out(`published ${describeType(type)} through ${base}/send (HTTP ${response.status})`);
      return 0;
    }
    const text = await response.text();
    let detail = text.slice(0, 500);
    try {
      const body = JSON.parse(text) as { message?: string; error?: string; field?: string };
      detail = body.message ?? body.error ?? detail;
    } catch {
      // not JSON: show the text
    }
    const hint =
      response.status === 401
        ? ' (the token was refused: is this Herald trusting the same key, and is the token an internal one?)'
        : response.status === 404
          ? " (no /send here: is the URL Herald's own, not the public proxy that blocks /send?)"
          : '';
    throw new CommandError(`${base}/send answered ${response.status}: ${detail}${hint}`);
  },
};
