import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

import { type INestApplication } from '@nestjs/common';
import { pino } from 'pino';

import { randomUUID } from 'node:crypto';

import { MAX_PAYLOAD_DEPTH, PushType } from '@herald/contracts';
import { EVENT_LOG, type EventLog } from '@herald/messaging';
import { bootService, loadConfig } from '@herald/platform';
import { SignalRAdapter } from '@herald/signalr';
import { TestIssuer } from '@herald/testing';

import { gatewayConfigSchema } from '../config/gateway.config';
import { GatewayModule, SEND_BODY_LIMIT } from '../gateway.module';

const USER_ID = '6f4ff0a4-5f5f-4c4b-9a55-2f1d3c0e8b11';
const CIPHER_ID = '0d4f3b1e-2c47-4e7b-9e2b-6b1f8a0c1d2e';

/** `/send` on a gateway booted as `main.ts` boots it (the memory engine instead of NATS). */
describe('POST /send', () => {
  let app: INestApplication;
  let url: string;
  let token: string;
  const signalListeners = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT') };

  beforeAll(async () => {
    const issuer = await TestIssuer.create();
    token = await issuer.internalToken();
    const config = loadConfig(gatewayConfigSchema, { HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem });
    const logger = pino({ level: 'silent' });
    app = await bootService({
      module: GatewayModule.forRoot({ config, logger, messaging: { engine: 'memory' } }),
      host: '127.0.0.1',
      port: 0,
      logger,
      jsonBodyLimit: SEND_BODY_LIMIT,
      webSocketAdapter: (nest) => new SignalRAdapter(nest),
    });
    url = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app.close();
    // bootService installed its shutdown handlers on the test process: take them away again.
    for (const signal of ['SIGTERM', 'SIGINT'] as const)
      for (const listener of process.listeners(signal))
        if (!signalListeners[signal].includes(listener)) process.removeListener(signal, listener);
  });

  async function send(
    body: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${url}/send`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
      body,
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  it('answers 400, not 503 (retry later), for a payload nested tens of thousands of levels deep', async () => {
    const levels = 40_000;
    const answer = await send(
      `{"type":5,"payload":{"userId":"${USER_ID}","date":"2026-01-01T00:00:00Z",` +
        `"extra":${'['.repeat(levels)}${']'.repeat(levels)}},"contextId":null}`,
    );
    expect(answer).toEqual({
      status: 400,
      body: {
        error: 'invalid_request',
        message: `payload.Extra: nested more than ${MAX_PAYLOAD_DEPTH} levels deep`,
        field: 'payload.Extra',
      },
    });
  });

  it(`takes a valid event as large as the contract allows (${SEND_BODY_LIMIT}) and answers 413 beyond`, async () => {
    // 9,000 collection ids (the contract allows 10,000): about 350 kB, past Nest's default 100 kB.
    const collectionIds = Array.from({ length: 9000 }, () => CIPHER_ID);
    const large = JSON.stringify({
      type: 0,
      payload: { id: CIPHER_ID, userId: USER_ID, revisionDate: '2026-01-01T00:00:00Z', collectionIds },
    });
    expect(large.length).toBeGreaterThan(300_000);
    expect((await send(large)).status).toBe(200);
    const tooLarge = JSON.stringify({
      type: 5,
      payload: { userId: USER_ID, date: '2026-01-01T00:00:00Z', padding: 'x'.repeat(600_000) },
    });
    expect(await send(tooLarge)).toMatchObject({
      status: 413,
      body: { message: 'request entity too large' },
    });
  });

  describe('Idempotency-Key', () => {
    const syncVault = JSON.stringify({ type: 5, payload: { userId: USER_ID, date: '2026-01-01T00:00:00Z' } });

    /** Appends a marker event straight to the log: its sequence says how many were stored before it. */
    async function marker(): Promise<number> {
      const log = app.get<EventLog>(EVENT_LOG);
      const event = {
        id: randomUUID(),
        type: PushType.SyncVault,
        payload: { UserId: USER_ID, Date: new Date() },
        contextId: null,
        acceptedAt: new Date(),
      } as const;
      return (await log.append(event)).sequence;
    }

    it('stores a request retried with the same key once, with the key as its event id', async () => {
      const key = `vault-api:${randomUUID()}`;
      const before = await marker();
      expect((await send(syncVault, { 'Idempotency-Key': key })).status).toBe(200);
      // The answer was lost; the vault API retries, once bare and once as a structured-field string.
      expect((await send(syncVault, { 'Idempotency-Key': key })).status).toBe(200);
      expect((await send(syncVault, { 'Idempotency-Key': `"${key}"` })).status).toBe(200);
      expect((await marker()) - before - 1).toBe(1);
      const again = await app.get<EventLog>(EVENT_LOG).append({
        id: key,
        type: PushType.SyncVault,
        payload: { UserId: USER_ID, Date: new Date() },
        contextId: null,
        acceptedAt: new Date(),
      });
      expect(again).toEqual({ sequence: before + 1, duplicate: true });
    });

    it('without a key, each request is a new event', async () => {
      const before = await marker();
      await send(syncVault);
      await send(syncVault);
      expect((await marker()) - before - 1).toBe(2);
    });

    it.each([
      ['empty', ''],
      ['too long', 'k'.repeat(129)],
      ['with a space (two keys given)', 'one, two'],
      ['not ASCII', 'clé'],
      ['an unterminated quote', '"abc'],
    ])('refuses a key that is %s with a 400 naming the header, storing nothing', async (_what, key) => {
      const before = await marker();
      const answer = await send(syncVault, { 'Idempotency-Key': key });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: 'invalid_request', field: 'Idempotency-Key' });
      expect(answer.body['message']).toMatch(/^Idempotency-Key: /);
      expect((await marker()) - before - 1).toBe(0);
    });
  });
});
