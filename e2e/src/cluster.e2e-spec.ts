import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';

import { natsNames } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  deleteNamespace,
  eventually,
  HubClient,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
} from '@herald/testing';

interface Message {
  Type: number;
  Payload: Record<string, unknown>;
}

/**
 * One device of one user, as a real Bitwarden client: a device identifier that survives
 * reconnects, a fresh token each time, and a tally of every notification it ever received.
 */
class Device {
  readonly id = randomUUID();
  readonly received = new Map<string, number>();
  readonly types: number[] = [];
  client: HubClient | undefined;
  closedByServer = false;
  private connecting = false;

  constructor(
    readonly userId: string,
    private readonly issuer: TestIssuer,
    private readonly claims: Record<string, unknown> = {},
  ) {}

  async connect(gateway: ServiceProcess): Promise<void> {
    const token = await this.issuer.userToken(this.userId, { device: this.id, ...this.claims });
    const client = await HubClient.connect(`${gateway.url}/notifications/hub`, { token });
    this.closedByServer = false;
    client.connection.onclose(() => (this.closedByServer = true));
    client.connection.on('ReceiveMessage', (message: Message) => {
      this.types.push(message.Type);
      const id = typeof message.Payload.Id === 'string' ? message.Payload.Id : `type-${message.Type}`;
      this.received.set(id, (this.received.get(id) ?? 0) + 1);
    });
    this.client = client;
  }

  /** Like a client told to reconnect: if its connection was closed, connects again to `gateway`. */
  reconnectIfClosed(gateway: ServiceProcess): void {
    if (!this.closedByServer || this.connecting) return;
    this.client = undefined;
    this.connecting = true;
    // A failed attempt leaves `closedByServer` set, so the next call tries again.
    this.connect(gateway)
      .catch(() => undefined)
      .finally(() => (this.connecting = false));
  }

  /** Connected, and not closed since. */
  get online(): boolean {
    return this.client !== undefined && !this.closedByServer;
  }

  async disconnect(): Promise<void> {
    await this.client?.stop();
    this.client = undefined;
  }

  /** Counts against what it should have received. */
  tally(expected: string[]): { delivered: number; duplicates: number; lost: number } {
    let delivered = 0;
    let duplicates = 0;
    for (const id of expected) {
      const count = this.received.get(id) ?? 0;
      if (count > 0) delivered += 1;
      duplicates += Math.max(0, count - 1);
    }
    return { delivered, duplicates, lost: expected.length - delivered };
  }
}

function report(
  name: string,
  counts: { sent: number; delivered: number; duplicates: number; lost: number },
): void {
  process.stdout.write(
    `\n[${name}] sent ${counts.sent}, delivered ${counts.delivered}, duplicates ${counts.duplicates}, lost ${counts.lost}\n`,
  );
}

/**
 * Reconnects to `to` every device of the fleet whose connection was closed, until all are online,
 * waits until each has received everything meant for it, and returns the counts over the fleet.
 */
async function settle(
  fleet: Device[],
  expected: Map<Device, string[]>,
  to: ServiceProcess,
  reconnectMs: number,
  deliveryMs: number,
) {
  await eventually(
    () => {
      for (const device of fleet) device.reconnectIfClosed(to);
      expect(fleet.filter((device) => !device.online)).toHaveLength(0);
    },
    { timeoutMs: reconnectMs },
  );
  await eventually(
    () => {
      for (const [device, ids] of expected) expect(device.tally(ids).lost).toBe(0);
    },
    { timeoutMs: deliveryMs },
  );
  return [...expected].reduce(
    (sum, [device, ids]) => {
      const tally = device.tally(ids);
      return {
        sent: sum.sent + ids.length,
        delivered: sum.delivered + tally.delivered,
        duplicates: sum.duplicates + tally.duplicates,
        lost: sum.lost + tally.lost,
      };
    },
    { sent: 0, delivered: 0, duplicates: 0, lost: 0 },
  );
}

/**
 * Several gateways and dispatchers on one NATS: every client on any gateway gets what is meant for
 * it, and a device that was away — because it disconnected, its gateway drained, or its gateway
 * and a dispatcher were killed — gets what it missed when it comes back.
 */
describe('a cluster of gateways and dispatchers', () => {
  const namespace = testNamespace('clu');
  const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
  const gatewayEnv = (issuer: TestIssuer, extra: Record<string, string> = {}) => ({
    ...env,
    HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
    HERALD_REPLAY_MAX_MESSAGES: '10000',
    HERALD_LOG_LEVEL: 'info',
    ...extra,
  });
  const dispatcherEnv = { ...env, HERALD_DISPATCHER_ACK_WAIT: '2s', HERALD_LOG_LEVEL: 'info' };
  let issuer: TestIssuer;
  let publisher: HeraldPublisher;
  let nats: NatsConnection;
  let manager: JetStreamManager;
  const services: ServiceProcess[] = [];
  const devices: Device[] = [];
  let gateways: ServiceProcess[];

  const start = async (app: 'gateway' | 'dispatcher', extra: Record<string, string> = {}) => {
    const service = await ServiceProcess.start(
      app,
      app === 'gateway' ? gatewayEnv(issuer, extra) : { ...dispatcherEnv, ...extra },
    );
    services.push(service);
    return service;
  };
  const newDevice = (userId = randomUUID(), claims: Record<string, unknown> = {}) => {
    const device = new Device(userId, issuer, claims);
    devices.push(device);
    return device;
  };
  /** How many deliveries to a user the dispatchers have stored in DELIVERIES (what replay reads). */
  const storedFor = async (userId: string): Promise<number> => {
    const names = natsNames(namespace);
    const subject = names.subjects.deliver('user', userId);
    const info = await manager.streams.info(names.streams.deliveries, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  };
  /** Publishes one SyncCipherUpdate per user id and returns the cipher id it carried. */
  const notify = async (userId: string): Promise<string> => {
    const id = randomUUID();
    await publisher.syncCipherUpdate({ Id: id, UserId: userId, RevisionDate: new Date() });
    return id;
  };
  const sendViaHttp = async (gateway: ServiceProcess, body: unknown) => {
    const response = await fetch(`${gateway.url}/send`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await issuer.internalToken()}`,
      },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
  };

  beforeAll(async () => {
    issuer = await TestIssuer.create();
    gateways = await Promise.all([start('gateway'), start('gateway'), start('gateway')]);
    await Promise.all([start('dispatcher'), start('dispatcher')]);
    publisher = await HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace });
    nats = await connect({ servers: TEST_NATS_URL });
    manager = await nats.jetstreamManager();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.disconnect().catch(() => undefined)));
    await publisher?.close();
    await nats?.close();
    await Promise.all(services.map((service) => service.stop()));
    await deleteNamespace(namespace);
  }, 60_000);

  it('delivers to every client on any gateway what is meant for it, and nothing else', async () => {
    const [g1, g2, g3] = gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const organizationId = randomUUID();
    const userOne = randomUUID();
    const oneOnG1 = newDevice(userOne);
    const oneOnG2 = newDevice(userOne);
    const two = newDevice();
    const three = newDevice();
    const memberOnG1 = newDevice(randomUUID(), { orguser: organizationId });
    const memberOnG3 = newDevice(randomUUID(), { orgadmin: [organizationId] });
    await Promise.all([
      oneOnG1.connect(g1),
      oneOnG2.connect(g2),
      two.connect(g2),
      three.connect(g3),
      memberOnG1.connect(g1),
      memberOnG3.connect(g3),
    ]);
    const expected = new Map<Device, string[]>(devices.slice(-6).map((device) => [device, []]));
    for (let round = 0; round < 5; round += 1) {
      const forOne = await notify(userOne);
      expected.get(oneOnG1)!.push(forOne);
      expected.get(oneOnG2)!.push(forOne);
      expected.get(two)!.push(await notify(two.userId));
      expected.get(three)!.push(await notify(three.userId));
      const organizationCipher = randomUUID();
      await publisher.syncCipherCreate({
        Id: organizationCipher,
        OrganizationId: organizationId,
        RevisionDate: new Date(),
      });
      expected.get(memberOnG1)!.push(organizationCipher);
      expected.get(memberOnG3)!.push(organizationCipher);
    }
    await eventually(() => {
      for (const [device, ids] of expected) expect(device.tally(ids).lost).toBe(0);
    });
    // Nothing else: a last marker per device arrives after everything above, and the tallies match.
    const markers = await Promise.all([...expected.keys()].map((device) => notify(device.userId)));
    await eventually(() =>
      [...expected.keys()].forEach((device, index) =>
        expect(device.received.has(markers[index]!)).toBe(true),
      ),
    );
    for (const [device, ids] of expected) {
      const extra = [...device.received.keys()].filter((id) => !ids.includes(id) && !markers.includes(id));
      expect(extra).toEqual([]);
      expect(device.tally(ids).duplicates).toBe(0);
    }
  });

  it('sends a gateway only the traffic of groups it holds', async () => {
    const [g1, g2, g3] = gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const onlyOnG2 = newDevice();
    await onlyOnG2.connect(g2);
    // Received minus duplicates: a dispatcher that stalls past its ack wait republishes an event's
    // deliveries; the stream stores them once but live subscribers see both, and drop the second.
    // The received counter is labelled by hub: a gateway that never got a delivery has no series.
    const unique = async (gateway: ServiceProcess) =>
      (await gateway.metric('herald_gateway_deliveries_received_total', {}, { absentAs: 0 })) -
      (await gateway.metric('herald_gateway_deliveries_duplicate_total'));
    const before = await Promise.all([g1, g2, g3].map(unique));
    const ids: string[] = [];
    for (let index = 0; index < 20; index += 1) ids.push(await notify(onlyOnG2.userId));
    await eventually(() => expect(onlyOnG2.tally(ids).lost).toBe(0));
    const after = await Promise.all([g1, g2, g3].map(unique));
    const received = after.map((count, index) => count - before[index]!);
    process.stdout.write(
      `\n[interest] deliveries received per gateway for 20 events to a user on g2 only: ${received.join(', ')}\n`,
    );
    expect(received).toEqual([0, 20, 0]);
  });

  it('routes login with device across gateways', async () => {
    const [g1, , g3] = gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const requestId = randomUUID();
    const waiting = await HubClient.connect(`${g1.url}/notifications/anonymous-hub?Token=${requestId}`);
    try {
      await sendViaHttp(g3, { type: 16, payload: { id: requestId, userId: randomUUID() } });
      const approval = await waiting.next(
        (invocation) => invocation.target === 'AuthRequestResponseRecieved',
      );
      expect(approval.args[0]).toMatchObject({ Type: 16, Payload: { Id: requestId } });
    } finally {
      await waiting.stop();
    }
  });

  it('closes every connection of a user on every gateway on request', async () => {
    const [g1, g2, g3] = gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const userId = randomUUID();
    const onG1 = newDevice(userId);
    const onG2 = newDevice(userId);
    const bystander = newDevice();
    await Promise.all([onG1.connect(g1), onG2.connect(g2), bystander.connect(g1)]);
    const response = await fetch(`${g3.url}/users/${userId}/disconnect`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await issuer.internalToken()}`,
      },
      body: JSON.stringify({ reason: 'account disabled' }),
    });
    expect(response.status).toBe(202);
    await eventually(() => expect([onG1.closedByServer, onG2.closedByServer]).toEqual([true, true]));
    expect(bystander.closedByServer).toBe(false);
    await eventually(() =>
      expect(g1.rawOutput.join('\n')).toMatch(
        /"reason":"account disabled".*closed the connections of a user/,
      ),
    );
    // Only with an internal token.
    const refused = await fetch(`${g3.url}/users/${userId}/disconnect`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await issuer.userToken(userId)}` },
    });
    expect(refused.status).toBe(403);
  });

  it('replays to a device what it missed while away, in order, on another gateway', async () => {
    const [g1, g2] = gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const device = newDevice();
    await device.connect(g1);
    const first = await notify(device.userId);
    await eventually(() => expect(device.received.has(first)).toBe(true));
    await device.disconnect();
    const missed: string[] = [];
    for (let index = 0; index < 5; index += 1) missed.push(await notify(device.userId));
    // Stored for replay before the device returns: what is not yet routed would arrive live, in
    // whichever order the two dispatchers finish it.
    await eventually(async () => expect(await storedFor(device.userId)).toBe(6));
    await device.connect(g2);
    await eventually(() => expect(device.tally(missed).lost).toBe(0));
    const live = await notify(device.userId);
    await eventually(() => expect(device.received.has(live)).toBe(true));
    expect([...device.received.keys()]).toEqual([first, ...missed, live]);
  });

  it('sends one SyncVault instead of a backlog longer than the configured bound', async () => {
    const [g1] = gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const bounded = await start('gateway', { HERALD_REPLAY_MAX_MESSAGES: '3' });
    const device = newDevice();
    await device.connect(g1);
    await device.disconnect();
    const missed: string[] = [];
    for (let index = 0; index < 10; index += 1) missed.push(await notify(device.userId));
    await eventually(async () => expect(await storedFor(device.userId)).toBe(10));
    await device.connect(bounded);
    await eventually(() => expect(device.types).toEqual([5]));
    expect(device.tally(missed).delivered).toBe(0);
  });

  it('loses nothing when a gateway drains on SIGTERM and its clients reconnect elsewhere', async () => {
    const [g1] = gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const draining = await start('gateway');
    const fleet = Array.from({ length: 10 }, () => newDevice());
    await Promise.all(fleet.map((device) => device.connect(draining)));
    const expected = new Map<Device, string[]>(fleet.map((device) => [device, []]));
    let stopped: Promise<number | null> | undefined;
    for (let index = 0; index < 300; index += 1) {
      const device = fleet[index % fleet.length]!;
      expected.get(device)!.push(await notify(device.userId));
      if (index === 100) stopped = draining.stop('SIGTERM');
      // Like a client that reconnects as soon as it is told to: to a gateway that is up.
      for (const away of fleet) away.reconnectIfClosed(g1);
      if (index % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await stopped).toBe(0);
    const totals = await settle(fleet, expected, g1, 20_000, 30_000);
    report('SIGTERM drain', totals);
    expect(totals.lost).toBe(0);
  }, 90_000);

  it('loses nothing when a gateway and a dispatcher are killed mid-stream', async () => {
    const [, g2] = gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const doomedGateway = await start('gateway');
    const doomedDispatcher = await start('dispatcher');
    const fleet = Array.from({ length: 20 }, () => newDevice());
    await Promise.all(fleet.map((device) => device.connect(doomedGateway)));
    const expected = new Map<Device, string[]>(fleet.map((device) => [device, []]));
    const total = 3000;
    let killed = false;
    for (let index = 0; index < total; index += 1) {
      const device = fleet[index % fleet.length]!;
      expected.get(device)!.push(await notify(device.userId));
      if (index === 1000) {
        // SIGKILL: no drain, no presence written, in-flight events unacknowledged.
        await Promise.all([doomedGateway.stop('SIGKILL'), doomedDispatcher.stop('SIGKILL')]);
        killed = true;
      }
      if (killed) for (const away of fleet) away.reconnectIfClosed(g2);
      if (index % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const totals = await settle(fleet, expected, g2, 30_000, 60_000);
    report('kill -9 gateway and dispatcher', totals);
    expect(totals).toMatchObject({ sent: total, delivered: total, lost: 0 });
  }, 120_000);
});
