import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';

import { eventCodec } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  deleteNamespace,
  eventually,
  HubClient,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
  upgradeStatus,
} from '@herald/testing';

/**
 * The thinnest complete path, with real parts only: the built gateway and dispatcher as separate
 * processes, the NATS JetStream server on this machine, and the real @microsoft/signalr client
 * connecting exactly as Bitwarden's clients do.
 */
describe('a vault event reaches a real SignalR client', () => {
  const namespace = testNamespace('e2e');
  let issuer: TestIssuer;
  let gateway: ServiceProcess;
  let dispatcher: ServiceProcess;
  let nats: NatsConnection;
  const clients: HubClient[] = [];

  const hubUrl = () => `${gateway.url}/notifications/hub`;

  async function connectUser(
    userId: string,
    protocol: 'messagepack' | 'json',
    extra: Record<string, unknown> = {},
  ) {
    const client = await HubClient.connect(hubUrl(), {
      token: await issuer.userToken(userId, extra),
      protocol,
    });
    clients.push(client);
    return client;
  }

  async function postSend(body: unknown, token?: string): Promise<{ status: number; text: string }> {
    const response = await fetch(`${gateway.url}/send`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  }

  async function send(body: unknown): Promise<void> {
    const response = await postSend(body, await issuer.internalToken());
    expect(response).toEqual({ status: 200, text: '' });
  }

  const typesOf = (client: HubClient) =>
    client.received.map((received) => (received.args[0] as { Type: number }).Type);

  /** A SyncVault for `userId`: used as a marker that everything sent before it was processed. */
  async function marker(client: HubClient, userId: string): Promise<void> {
    const date = new Date().toISOString();
    await send({ type: 5, payload: { userId, date }, contextId: null });
    await client.next((invocation) => (invocation.args[0] as { Type: number }).Type === 5);
  }

  beforeAll(async () => {
    issuer = await TestIssuer.create('https://vault.example|login');
    const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
    [dispatcher, gateway] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('gateway', { ...env, HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem }),
    ]);
    nats = await connect({ servers: TEST_NATS_URL });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    const codes = await Promise.all([gateway?.stop(), dispatcher?.stop()]);
    await nats?.close();
    await deleteNamespace(namespace);
    // Both services shut down cleanly on SIGTERM.
    expect(codes).toEqual([0, 0]);
  });

  it.each(['messagepack', 'json'] as const)(
    'delivers a SyncCipherUpdate posted to /send over the %s hub protocol, to its user only',
    async (protocol) => {
      const userId = randomUUID();
      const otherUserId = randomUUID();
      const cipherId = randomUUID();
      const revisionDate = '2026-11-23T10:11:12.345Z';
      const client = await connectUser(userId, protocol);
      const other = await connectUser(otherUserId, protocol);

      // Bitwarden's self-hosted API body: camelCase with explicit nulls.
      await send({
        type: 0,
        payload: { id: cipherId, userId, organizationId: null, collectionIds: null, revisionDate },
        contextId: 'device-that-made-the-change',
      });

      const invocation = await client.next((received) => received.target === 'ReceiveMessage');
      expect(invocation.args).toHaveLength(1);
      const message = invocation.args[0] as {
        ContextId: unknown;
        Type: unknown;
        Payload: Record<string, unknown>;
      };
      expect(message.Type).toBe(0);
      expect(typeof message.Type).toBe('number');
      expect(message.ContextId).toBe('device-that-made-the-change');
      expect(message.Payload).toMatchObject({
        Id: cipherId,
        UserId: userId,
        OrganizationId: null,
        CollectionIds: null,
      });
      if (protocol === 'messagepack') {
        // The MessagePack timestamp extension arrives as a Date.
        expect(message.Payload.RevisionDate).toBeInstanceOf(Date);
        expect((message.Payload.RevisionDate as Date).toISOString()).toBe(revisionDate);
      } else {
        expect(message.Payload.RevisionDate).toBe(revisionDate);
      }

      // The other user gets its own marker, and nothing before it; the user gets the event once.
      await marker(other, otherUserId);
      await marker(client, userId);
      expect(typesOf(other)).toEqual([5]);
      expect(typesOf(client)).toEqual([0, 5]);
    },
  );

  it('delivers an event published straight to NATS with @herald/publisher', async () => {
    const userId = randomUUID();
    const client = await connectUser(userId, 'messagepack');
    const publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
    try {
      const id = randomUUID();
      const receipt = await publisher.syncCipherUpdate(
        { Id: id, UserId: userId, RevisionDate: new Date('2026-11-23T00:00:00Z') },
        { contextId: 'api-device', id: `outbox-${id}` },
      );
      expect(receipt.duplicate).toBe(false);
      // A retried publish with the same id is stored once.
      const retry = await publisher.syncCipherUpdate(
        { Id: id, UserId: userId, RevisionDate: new Date('2026-11-23T00:00:00Z') },
        { contextId: 'api-device', id: `outbox-${id}` },
      );
      expect(retry).toMatchObject({ duplicate: true, sequence: receipt.sequence });

      const invocation = await client.next((received) => received.target === 'ReceiveMessage');
      expect(invocation.args[0]).toMatchObject({
        Type: 0,
        ContextId: 'api-device',
        Payload: { Id: id, UserId: userId },
      });
      await marker(client, userId);
      expect(client.received).toHaveLength(2);
    } finally {
      await publisher.close();
    }
  });

  it('delivers an organization cipher to every member connected with that organization', async () => {
    const organizationId = randomUUID();
    const memberId = randomUUID();
    const member = await connectUser(memberId, 'messagepack', { orguser: organizationId });
    const outsiderId = randomUUID();
    const outsider = await connectUser(outsiderId, 'messagepack', { orguser: randomUUID() });
    await send({
      Type: 1,
      Payload: {
        Id: randomUUID(),
        OrganizationId: organizationId,
        CollectionIds: [],
        RevisionDate: new Date().toISOString(),
      },
    });
    const invocation = await member.next((received) => received.target === 'ReceiveMessage');
    expect(invocation.args[0]).toMatchObject({
      Type: 1,
      ContextId: null,
      Payload: { OrganizationId: organizationId },
    });
    await marker(outsider, outsiderId);
    await marker(member, memberId);
    expect(typesOf(outsider)).toEqual([5]);
    expect(typesOf(member)).toEqual([1, 5]);
  });

  it('delivers an event with explicit recipients to exactly the listed users, payload unchanged', async () => {
    // Vaultwarden-shaped: its tokens carry no organization claims, so an organization cipher is
    // sent to each user with access, with UserId null and OrganizationId set.
    const organizationId = randomUUID();
    const [ownerId, memberId, outsiderId] = [randomUUID(), randomUUID(), randomUUID()];
    const owner = await connectUser(ownerId, 'messagepack');
    const member = await connectUser(memberId, 'json');
    // Not listed, though its token names the organization: recipients replace the organization target.
    const outsider = await connectUser(outsiderId, 'messagepack', { orguser: organizationId });
    const cipherId = randomUUID();
    await send({
      type: 1,
      payload: {
        id: cipherId,
        userId: null,
        organizationId,
        collectionIds: [randomUUID()],
        revisionDate: new Date().toISOString(),
      },
      contextId: 'device-of-the-owner',
      Recipients: { Users: [ownerId.toUpperCase(), memberId, ownerId] },
    });
    for (const client of [owner, member]) {
      const invocation = await client.next((received) => received.target === 'ReceiveMessage');
      expect(invocation.args[0]).toMatchObject({
        Type: 1,
        ContextId: 'device-of-the-owner',
        Payload: { Id: cipherId, UserId: null, OrganizationId: organizationId },
      });
    }

    // The same through @herald/publisher, to the member only.
    const publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
    try {
      await publisher.syncCipherUpdate(
        { Id: cipherId, UserId: null, OrganizationId: organizationId, RevisionDate: new Date() },
        { recipients: { users: [memberId] } },
      );
    } finally {
      await publisher.close();
    }
    await member.next((received) => (received.args[0] as { Type: number }).Type === 0);

    await marker(outsider, outsiderId);
    await marker(owner, ownerId);
    await marker(member, memberId);
    expect(typesOf(outsider)).toEqual([5]);
    expect(typesOf(owner)).toEqual([1, 5]);
    expect(typesOf(member)).toEqual([1, 0, 5]);
  });

  it('passes a type it does not know through to the user of Payload.UserId, unchanged', async () => {
    const userId = randomUUID();
    const otherUserId = randomUUID();
    const client = await connectUser(userId, 'messagepack');
    const jsonClient = await connectUser(userId, 'json');
    const other = await connectUser(otherUserId, 'messagepack');
    const payload = {
      userId: userId.toUpperCase(),
      RefreshApproverInbox: { pending: [1, 2], since: '2026-11-23T10:11:12Z' },
      note: null,
    };
    await send({ type: 28, payload, contextId: 'device-a' });
    for (const receiver of [client, jsonClient]) {
      const invocation = await receiver.next((received) => received.target === 'ReceiveMessage');
      // Every key as given (camelCase kept, nothing added), every value as given (no date, no lowercase).
      expect(invocation.args[0]).toEqual({ ContextId: 'device-a', Type: 28, Payload: payload });
    }
    await marker(other, otherUserId);
    await marker(client, userId);
    expect(typesOf(other)).toEqual([5]);
    expect(typesOf(client)).toEqual([28, 5]);
  });

  it('keeps LogOut’s Reason end to end', async () => {
    const userId = randomUUID();
    const client = await connectUser(userId, 'messagepack');
    await send({ type: 11, payload: { userId, reason: 1 }, contextId: null });
    const invocation = await client.next((received) => received.target === 'ReceiveMessage');
    expect(invocation.args[0]).toEqual({ ContextId: null, Type: 11, Payload: { UserId: userId, Reason: 1 } });
  });

  it('dead-letters a type it does not know whose payload names nobody, with the reason', async () => {
    const body = { type: 29, payload: { id: randomUUID(), targetUserId: randomUUID() }, contextId: null };
    // Accepted (stored) like any event: only the dispatcher can tell it reaches nobody.
    const idempotencyKey = randomUUID();
    const response = await fetch(`${gateway.url}/send`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await issuer.internalToken()}`,
        'Idempotency-Key': idempotencyKey,
      },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    const manager = await nats.jetstreamManager();
    const dead = await eventually(async () => {
      const message = await manager.streams.getMessage(`${namespace}_DEAD`, {
        last_by_subj: `${namespace}.dead.events`,
      });
      expect(eventCodec.decode(message.data).id).toBe(idempotencyKey);
      return message;
    });
    expect(dead.header.get('Herald-Dead-Reason')).toBe(
      'type 29 is unknown to Herald and its payload names neither UserId nor OrganizationId',
    );
    expect(dead.header.get('Herald-Original-Subject')).toBe(`${namespace}.events.29`);
  });

  it('refuses a bad token before the upgrade, and keeps serving everyone else', async () => {
    const refusals = () =>
      gateway.logs.filter((line) => line.msg === 'upgrade refused' && line.status === 401).length;
    const refusedBefore = refusals();
    const stranger = await TestIssuer.create('https://vault.example|login');
    const forged = await stranger.userToken(randomUUID());
    await expect(HubClient.connect(hubUrl(), { token: forged })).rejects.toThrow();
    await expect(HubClient.connect(hubUrl(), {})).rejects.toThrow();
    const expired = await issuer.userToken(randomUUID(), {}, { expiresIn: -3600 });
    await expect(HubClient.connect(hubUrl(), { token: expired })).rejects.toThrow();

    // The exact answer on the wire: 401 and no upgrade.
    const status = await upgradeStatus(`${hubUrl()}?access_token=${encodeURIComponent(forged)}`);
    expect(status).toBe(401);
    expect(
      await upgradeStatus(
        `${hubUrl()}?access_token=${encodeURIComponent(await issuer.userToken(randomUUID()))}`,
      ),
    ).toBe(101);

    // The access token never reaches a log line: once the four refusals above are logged (three
    // by the client, one raw), neither token is in the output.
    await eventually(() => expect(refusals()).toBe(refusedBefore + 4));
    const output = gateway.rawOutput.join('\n');
    expect(output).not.toContain(forged);
    expect(output).not.toContain(expired);
    expect(output).not.toContain(forged.split('.')[2]);

    const userId = randomUUID();
    const client = await connectUser(userId, 'json');
    await marker(client, userId);
  });

  it('answers /send with 401, 403 and 400 as the contract says', async () => {
    const body = { type: 5, payload: { userId: randomUUID(), date: new Date().toISOString() } };
    expect((await postSend(body)).status).toBe(401);
    expect((await postSend(body, 'not-a-jwt')).status).toBe(401);
    // A user's token (scope api) may not post events.
    expect((await postSend(body, await issuer.userToken(randomUUID()))).status).toBe(403);

    const internal = await issuer.internalToken();
    const outOfRange = await postSend({ type: 256, payload: {} }, internal);
    expect(outOfRange.status).toBe(400);
    expect(outOfRange.text).toContain('expected an integer from 0 to 255');
    const userId = randomUUID();
    const badRecipient = await postSend(
      { type: 5, payload: { userId, date: new Date().toISOString() }, recipients: { users: [userId, 'x'] } },
      internal,
    );
    expect(badRecipient.status).toBe(400);
    expect(JSON.parse(badRecipient.text)).toMatchObject({ field: 'recipients.users[1]' });
    const anonymousWithRecipients = await postSend(
      { type: 16, payload: { id: randomUUID(), userId }, recipients: { users: [userId] } },
      internal,
    );
    expect(anonymousWithRecipients.status).toBe(400);
    expect(JSON.parse(anonymousWithRecipients.text)).toEqual({
      error: 'invalid_request',
      message:
        'recipients: AuthRequestResponse is routed to the anonymous hub by its Id; recipients are not allowed',
      field: 'recipients',
    });
    const badField = await postSend(
      { type: 5, payload: { userId: 'nope', date: new Date().toISOString() } },
      internal,
    );
    expect(badField.status).toBe(400);
    expect(JSON.parse(badField.text)).toMatchObject({ field: 'payload.UserId' });
    const malformed = await postSend('{"type": 5,', internal);
    expect(malformed.status).toBe(400);
  });

  it('sends an event it cannot parse to the DEAD stream with the reason', async () => {
    const jetstream = nats.jetstream();
    const subject = `${namespace}.events.0`;
    const ack = await jetstream.publish(subject, Buffer.from('definitely not messagepack'), {
      headers: natsHeaders(),
    });
    const manager = await nats.jetstreamManager();
    const dead = await eventually(async () => {
      const message = await manager.streams.getMessage(`${namespace}_DEAD`, {
        last_by_subj: `${namespace}.dead.events`,
      });
      expect(message.header.get('Herald-Original-Sequence')).toBe(String(ack.seq));
      return message;
    });
    expect(dead.header.get('Herald-Dead-Reason')).toMatch(/invalid event/);
    expect(Buffer.from(dead.data).toString()).toBe('definitely not messagepack');
    // The dispatcher moved on: later events still flow.
    const userId = randomUUID();
    const client = await connectUser(userId, 'messagepack');
    await marker(client, userId);
  });

  it('subscribes a gateway once per user, and releases it with the user’s last connection', async () => {
    const subscribedGroups = () => gateway.metric('herald_gateway_subscribed_groups');
    const connections = () => gateway.metric('herald_gateway_connections');
    const before = await subscribedGroups();
    const connectionsBefore = await connections();
    const userId = randomUUID();
    const first = await HubClient.connect(hubUrl(), { token: await issuer.userToken(userId) });
    const second = await HubClient.connect(hubUrl(), {
      token: await issuer.userToken(userId),
      protocol: 'json',
    });
    expect(await subscribedGroups()).toBe(before + 1);

    // Both connections of the user get the notification from the one subscription.
    await send({ type: 7, payload: { id: randomUUID(), userId, revisionDate: new Date().toISOString() } });
    await first.next((received) => (received.args[0] as { Type: number }).Type === 7);
    await second.next((received) => (received.args[0] as { Type: number }).Type === 7);

    // Once the gateway has seen the first connection go, the group is still held for the second,
    // which still gets the user's traffic (its marker), and nothing twice.
    await first.stop();
    await eventually(async () => expect(await connections()).toBe(connectionsBefore + 1));
    expect(await subscribedGroups()).toBe(before + 1);
    await marker(second, userId);
    expect(typesOf(second)).toEqual([7, 5]);
    await second.stop();
    await eventually(async () => expect(await subscribedGroups()).toBe(before));
  });

  it('refuses to boot with an invalid variable, naming it', async () => {
    await expect(
      ServiceProcess.start('gateway', {
        HERALD_NAMESPACE: namespace,
        HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
        HERALD_GATEWAY_PORT: 'eighty',
        HERALD_NAMSPACE: 'typo',
      }),
    ).rejects.toThrow(/exited with 1[\s\S]*HERALD_GATEWAY_PORT[\s\S]*HERALD_NAMSPACE: unknown variable/);
  });

  it('serves /alive, /now and health', async () => {
    for (const path of ['/alive', '/now', '/notifications/now']) {
      const response = await fetch(`${gateway.url}${path}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as string;
      expect(Math.abs(Date.parse(body) - Date.now())).toBeLessThan(60_000);
    }
    for (const service of [gateway, dispatcher]) {
      expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
      expect(await (await fetch(`${service.url}/health/ready`)).json()).toMatchObject({
        status: 'ok',
        checks: { nats: true },
      });
    }
  });
});
