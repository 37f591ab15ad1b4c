import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';

import { FakeRelay, refusedPort } from '@herald/testing';

import { BITWARDEN_CLOUD, RelayClient, type RelayOptions } from './relay.client';
import { PushProviderConfigError } from './send-outcome';

const installationId = '5c9c3c8e-0b4e-4c8e-9d2a-b0a100000042';
const installationKey = 'k3y-0f-th1s-1nstallat10n';
const userId = '4c6b3f0e-94ab-4d7b-8e51-ab1200c0ffee';
const organizationId = '6a1d9c2b-0c8e-4d55-9f3e-b0a100000001';

describe('RelayClient against a push relay', () => {
  let relay: FakeRelay;

  beforeEach(async () => {
    relay = await FakeRelay.start({ installationId, installationKey });
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await relay.stop();
  });

  function newClient(options: Partial<RelayOptions> = {}): RelayClient {
    return new RelayClient({
      relayUri: relay.relayUri,
      identityUri: relay.identityUri,
      installationId,
      installationKey,
      ...options,
    });
  }

  it('calls each route with its method, path and camelCase body', async () => {
    const client = newClient();

    const outcomes = [
      await client.register({
        deviceId: 'd-1',
        pushToken: 'fcm-token-1',
        userId,
        type: 0,
        identifier: 'ident-1',
        organizationIds: [organizationId],
        installationId,
      }),
      await client.register({
        deviceId: 'd-2',
        pushToken: 'apns-token-2',
        userId,
        type: 1,
        identifier: 'ident-2',
      }),
      await client.delete('d-1'),
      await client.addOrganization(['d-1', 'd-2'], organizationId),
      await client.deleteOrganization(['d-2'], organizationId),
      await client.send({
        type: 0,
        payload: { id: 'c1', userId, revisionDate: '2025-01-31T12:00:00.000Z' },
        userId,
        identifier: 'ident-1',
      }),
      await client.send({
        type: 6,
        payload: { organizationId },
        organizationId,
        installationId,
        deviceId: 'd-2',
        clientType: 2,
      }),
    ];

    expect(outcomes).toEqual(Array.from({ length: 7 }, () => ({ kind: 'sent' })));
    expect(relay.calls).toEqual([
      {
        method: 'POST',
        path: '/push/register',
        body: {
          deviceId: 'd-1',
          pushToken: 'fcm-token-1',
          userId,
          type: 0,
          identifier: 'ident-1',
          organizationIds: [organizationId],
          installationId,
        },
      },
      {
        method: 'POST',
        path: '/push/register',
        body: { deviceId: 'd-2', pushToken: 'apns-token-2', userId, type: 1, identifier: 'ident-2' },
      },
      { method: 'POST', path: '/push/delete', body: { id: 'd-1' } },
      {
        method: 'PUT',
        path: '/push/add-organization',
        body: { devices: [{ id: 'd-1' }, { id: 'd-2' }], organizationId },
      },
      {
        method: 'PUT',
        path: '/push/delete-organization',
        body: { devices: [{ id: 'd-2' }], organizationId },
      },
      {
        method: 'POST',
        path: '/push/send',
        body: {
          type: 0,
          payload: { id: 'c1', userId, revisionDate: '2025-01-31T12:00:00.000Z' },
          userId,
          identifier: 'ident-1',
        },
      },
      {
        method: 'POST',
        path: '/push/send',
        body: {
          type: 6,
          payload: { organizationId },
          organizationId,
          installationId,
          deviceId: 'd-2',
          clientType: 2,
        },
      },
    ]);
    expect(relay.tokenRequests).toBe(1);
  });

  it('shares one token request among concurrent calls', async () => {
    const client = newClient();

    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, index) => client.send({ type: 0, payload: { index }, userId })),
    );

    expect(outcomes.every((outcome) => outcome.kind === 'sent')).toBe(true);
    expect(relay.calls).toHaveLength(20);
    expect(relay.tokenRequests).toBe(1);
  });

  it('refreshes a token the relay stops accepting, once, and retries the call', async () => {
    const client = newClient();
    expect(await client.delete('d-1')).toEqual({ kind: 'sent' });

    relay.revokeAccessTokens();
    expect(await client.delete('d-2')).toEqual({ kind: 'sent' });
    expect(await client.delete('d-3')).toEqual({ kind: 'sent' });

    expect(relay.calls.map((call) => call.body)).toEqual([{ id: 'd-1' }, { id: 'd-2' }, { id: 'd-3' }]);
    expect(relay.tokenRequests).toBe(2);
  });

  it('refreshes the token five minutes before it expires', async () => {
    const client = newClient();
    const start = Date.now();
    expect(await client.delete('d-1')).toEqual({ kind: 'sent' });

    const now = jest.spyOn(Date, 'now');
    now.mockReturnValue(start + (86_400 - 6 * 60) * 1000);
    expect(await client.delete('d-2')).toEqual({ kind: 'sent' });
    expect(relay.tokenRequests).toBe(1);

    // Still valid at the relay, but inside the margin: a new one is fetched before the call.
    now.mockReturnValue(start + (86_400 - 4 * 60) * 1000);
    expect(await client.delete('d-3')).toEqual({ kind: 'sent' });
    expect(relay.tokenRequests).toBe(2);
    expect(relay.calls).toHaveLength(3);
  });

  it('rejects when the relay refuses even a fresh token', async () => {
    relay.respondWith(401).respondWith(401);
    const outcome = await newClient().delete('d-1');

    expect(outcome).toEqual({ kind: 'rejected', reason: 'invalid installation credentials' });
    expect(relay.tokenRequests).toBe(2);
    expect(relay.calls).toHaveLength(2);
  });

  it('rejects with invalid_client when identity refuses the installation key, never echoing it', async () => {
    const wrongKey = 'not-the-installation-key';
    const outcome = await newClient({ installationKey: wrongKey }).send({ type: 0, payload: {}, userId });

    expect(outcome).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/^invalid_client/) });
    expect(JSON.stringify(outcome)).not.toContain(wrongKey);
    expect(relay.calls).toEqual([]);
  });

  it('rejects with invalid_client when the installation id is unknown', async () => {
    const outcome = await newClient({ installationId: 'someone-else' }).delete('d-1');

    expect(outcome).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/^invalid_client/) });
  });

  it('retries when identity is unavailable, then recovers', async () => {
    relay.respondToTokenWith(503, { 'retry-after': '30' });
    const client = newClient();

    expect(await client.delete('d-1')).toEqual({
      kind: 'retry',
      reason: 'identity answered 503',
      retryAfterMs: 30_000,
    });
    expect(await client.delete('d-1')).toEqual({ kind: 'sent' });
    expect(relay.tokenRequests).toBe(2);
  });

  it('retries after the time a 429 asks for', async () => {
    relay.respondWith(429, { 'retry-after': '12' });
    const outcome = await newClient().send({ type: 0, payload: {}, userId });

    expect(outcome).toEqual({
      kind: 'retry',
      reason: 'relay POST /push/send answered 429',
      retryAfterMs: 12_000,
    });
  });

  it.each([500, 502, 503])('retries a %i', async (status) => {
    relay.respondWith(status, {}, { message: 'An error has occurred.' });
    const outcome = await newClient().addOrganization(['d-1'], organizationId);

    expect(outcome).toEqual({ kind: 'retry', reason: `relay PUT /push/add-organization answered ${status}` });
  });

  it('rejects a request the relay finds invalid, with its message', async () => {
    const outcome = await newClient().register({
      deviceId: '',
      pushToken: 't',
      userId,
      type: 0,
      identifier: 'i',
    });

    expect(outcome).toEqual({
      kind: 'rejected',
      reason:
        'relay POST /push/register answered 400: deviceId, pushToken, userId, type and identifier are required',
    });
    expect(relay.calls).toEqual([]);
  });

  it('reads no more than 16 KiB of an answer: past that, its message is not parsed', async () => {
    relay.respondWith(400, {}, { message: 'x'.repeat(4_000_000) });
    const outcome = await newClient().send({ type: 5, payload: { userId }, userId });

    expect(outcome).toEqual({
      kind: 'rejected',
      reason: `relay POST /push/send answered 400: {"message":"${'x'.repeat(188)}…`,
    });
  });

  it('rejects a send without a target, or for another installation, without calling the relay', async () => {
    const client = newClient();

    expect(await client.send({ type: 0, payload: {} })).toMatchObject({ kind: 'rejected' });
    expect(await client.send({ type: 0, payload: {}, installationId: 'someone-else' })).toMatchObject({
      kind: 'rejected',
    });
    expect(relay.tokenRequests).toBe(0);
  });

  it('retries when the relay does not answer in time', async () => {
    relay.stallNext();
    const outcome = await newClient({ timeoutMs: 300 }).delete('d-1');

    expect(outcome).toEqual({ kind: 'retry', reason: 'relay POST /push/delete failed: timed out' });
  });

  it('retries when the relay is down', async () => {
    const outcome = await newClient({ relayUri: `http://127.0.0.1:${await refusedPort()}` }).delete('d-1');

    expect(outcome).toEqual({ kind: 'retry', reason: 'relay POST /push/delete failed: ECONNREFUSED' });
  });

  it('retries when identity is down', async () => {
    const outcome = await newClient({ identityUri: `http://127.0.0.1:${await refusedPort()}` }).delete('d-1');

    expect(outcome).toEqual({ kind: 'retry', reason: 'identity token request failed: ECONNREFUSED' });
  });

  it('accepts base URIs with a trailing slash', async () => {
    const client = newClient({ relayUri: `${relay.relayUri}/`, identityUri: `${relay.identityUri}/` });

    expect(await client.delete('d-1')).toEqual({ kind: 'sent' });
  });
});

describe('RelayClient configuration', () => {
  /** The URLs the client requests, answered as identity and the relay would; the real hosts are not reachable from tests. */
  function recordRequests(): string[] {
    const requested: string[] = [];
    jest.spyOn(globalThis, 'fetch').mockImplementation((input) => {
      const url = input instanceof Request ? input.url : String(input);
      requested.push(url);
      return Promise.resolve(
        url.endsWith('/connect/token')
          ? Response.json({ access_token: 'token', expires_in: 3600, token_type: 'Bearer' })
          : new Response(null, { status: 200 }),
      );
    });
    return requested;
  }

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('calls Bitwarden’s US cloud when no URIs are configured', async () => {
    const requested = recordRequests();
    const client = new RelayClient({ installationId, installationKey });

    expect(await client.send({ type: 5, payload: { userId }, userId })).toEqual({ kind: 'sent' });
    expect(await client.delete('d-1')).toEqual({ kind: 'sent' });
    expect(requested).toEqual([
      'https://identity.bitwarden.com/connect/token',
      'https://push.bitwarden.com/push/send',
      'https://push.bitwarden.com/push/delete',
    ]);
  });

  it('calls the EU cloud with BITWARDEN_CLOUD.eu', async () => {
    const requested = recordRequests();
    const client = new RelayClient({ ...BITWARDEN_CLOUD.eu, installationId, installationKey });

    expect(await client.send({ type: 5, payload: { userId }, userId })).toEqual({ kind: 'sent' });
    expect(requested).toEqual([
      'https://identity.bitwarden.eu/connect/token',
      'https://api.bitwarden.eu/push/send',
    ]);
  });

  it.each([
    ['a missing installation id', { installationId: '' }, /installation id is missing/],
    ['a missing installation key', { installationKey: '' }, /installation key is missing/],
    ['a relay URI that is no URL', { relayUri: 'push.bitwarden.com' }, /relay URI is not a URL/],
    [
      'an identity URI that is not http(s)',
      { identityUri: 'ftp://identity.test' },
      /identity URI must be an http\(s\) URL/,
    ],
    ['a negative timeout', { timeoutMs: -1 }, /timeout must be a positive number/],
  ])('refuses %s', (_label, override, error) => {
    const create = (): RelayClient => new RelayClient({ installationId, installationKey, ...override });

    expect(create).toThrow(PushProviderConfigError);
    expect(create).toThrow(error);
  });
});
