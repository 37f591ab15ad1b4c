import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { pino } from 'pino';

import { BROKER_TRANSPORT } from '@herald/messaging';
import { type Database } from '@herald/persistence';
import { loadConfig } from '@herald/platform';
import { listenOnLoopback, type TestApp } from '@herald/testing';

import { pushConfigSchema } from '../config/push.config';
import { PushModule } from '../push.module';
import { PUSH_DATABASE } from '../push.tokens';

const ROUTES: [method: string, path: string][] = [
  ['POST', '/push/register'],
  ['POST', '/push/delete'],
  ['PUT', '/push/add-organization'],
  ['PUT', '/push/delete-organization'],
  ['POST', '/push/send'],
];

/** Bodies shaped like the relay's, with every field possibly wrong: types, sizes, nesting. */
const relayField = fc.oneof(
  fc.uuid(),
  fc.string({ maxLength: 50 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.uuid(), fc.string({ maxLength: 20 }), fc.integer()), { maxLength: 12 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
);
/** Mostly a well-typed value for the field, sometimes anything: reaches past validation and into it. */
const mostly = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: relayField });
const relayFields = {
  id: mostly(fc.uuid()),
  deviceId: mostly(fc.uuid()),
  devices: mostly(fc.array(fc.record({ id: fc.uuid() }), { maxLength: 5 })),
  pushToken: mostly(fc.string({ minLength: 1, maxLength: 100 })),
  userId: mostly(fc.uuid()),
  organizationId: mostly(fc.uuid()),
  organizationIds: mostly(fc.array(fc.uuid(), { maxLength: 5 })),
  identifier: mostly(fc.string({ minLength: 1, maxLength: 40 })),
  // Mobile types (Android, iOS, Amazon) reach registration; the rest are refused early.
  type: mostly(fc.oneof(fc.constantFrom(0, 1, 15), fc.integer({ min: 0, max: 30 }))),
  payload: mostly(fc.record({ id: fc.uuid(), date: fc.constant('2026-12-01T00:00:00Z') })),
  contextId: mostly(fc.option(fc.uuid())),
  clientType: mostly(fc.integer({ min: 0, max: 6 })),
};
const relayBody = fc.oneof(
  // Every field there, most of them well-typed: reaches the deepest checks and the database.
  { weight: 4, arbitrary: fc.record(relayFields) },
  // Fields missing at random.
  { weight: 2, arbitrary: fc.record(relayFields, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 6 }) },
);
const rawText = fc.oneof(
  relayBody.map((body) => JSON.stringify(body) ?? 'null'),
  fc.string({ maxLength: 200 }),
  fc.constant('{"deviceIds":' + '['.repeat(5000) + ']'.repeat(5000) + '}'),
  fc.constant('{'.repeat(10_000)),
);

/**
 * Hostile bodies at every relay route of a live push worker, with a valid installation token:
 * each is answered 2xx or 4xx, never 5xx, and the worker stays ready.
 */
describe('the relay API under hostile bodies', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-relay-fuzz-'));
  let service: TestApp;
  let token: string;

  beforeAll(async () => {
    const config = loadConfig(pushConfigSchema, { HERALD_DATA_DIR: dataDir });
    service = await listenOnLoopback(
      PushModule.forRoot({ config, logger: pino({ level: 'silent' }), messaging: { engine: 'memory' } }),
      undefined,
      BROKER_TRANSPORT,
    );
    const { installation, key } = await service.app.get<Database>(PUSH_DATABASE).installations.create();
    const response = await fetch(`${service.url}/connect/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'api.push',
        client_id: `installation.${installation.id}`,
        client_secret: key,
      }),
    });
    token = ((await response.json()) as { access_token: string }).access_token;
  });

  afterAll(async () => {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('takes any push type 0-255 at /push/send, known to Herald or not, and refuses 256', async () => {
    const send = (body: unknown) =>
      fetch(`${service.url}/push/send`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const userId = '6f4ff0a4-5f5f-4c4b-9a55-2f1d3c0e8b11';
    const unknown = await send({ type: 28, payload: { userId, inbox: { pending: 2 } }, userId });
    expect(unknown.status).toBe(200);
    const asText = await send({ type: 255, payload: JSON.stringify({ anything: true }), userId });
    expect(asText.status).toBe(200);
    const outOfRange = await send({ type: 256, payload: {}, userId });
    expect(outOfRange.status).toBe(400);
    expect(await outOfRange.json()).toMatchObject({ field: 'type' });
  });

  it('answers every body with 2xx or 4xx, never 5xx', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), rawText, async ([method, path], body) => {
        const response = await fetch(`${service.url}${path}`, {
          method,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body,
        });
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        // fast-check reports the route and body of a failure.
        expect(response.status).toBeLessThan(500);
      }),
      { numRuns: 600, seed: 20261201 },
    );
    // Some bodies were accepted: the generator reaches past the validation, not only into it.
    expect([...statuses.keys()].some((status) => status < 300)).toBe(true);
    expect((await fetch(`${service.url}/health/ready`)).status).toBe(200);
    process.stdout.write(
      `[relay fuzz] ${[...statuses].map(([status, count]) => `${status}×${count}`).join(' ')}\n`,
    );
  }, 120_000);
});
