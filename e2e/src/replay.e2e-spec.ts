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

const SYNC_VAULT = 5;

/**
 * One device of one user, connected with the real `@microsoft/signalr` client. It keeps every
 * notification in the order it arrived: cipher ids, and `sync-vault` for a SyncVault.
 */
class Device {
  readonly id = randomUUID();
  readonly received: string[] = [];
  client: HubClient | undefined;

  constructor(
    private readonly issuer: TestIssuer,
    readonly userId: string,
  ) {}

  async connect(gateway: ServiceProcess): Promise<void> {
    const token = await this.issuer.userToken(this.userId, { device: this.id });
    const client = await HubClient.connect(`${gateway.url}/notifications/hub`, { token });
    client.connection.on('ReceiveMessage', (message: Message) => {
      if (message.Type === SYNC_VAULT) this.received.push('sync-vault');
      else this.received.push(String(message.Payload.Id));
    });
    this.client = client;
  }

  async disconnect(): Promise<void> {
    await this.client?.stop();
    this.client = undefined;
  }
}

/**
 * Publishes SyncCipherUpdate events to a set of users, several in flight at once, until stopped:
 * the kind of steady traffic a reconnecting device meets. Remembers each event's position in
 * EVENTS; with one dispatcher (which handles events one at a time, in stream order) that is the
 * order in which each user's deliveries are stored and sent.
 */
class Traffic {
  private readonly sent: { userId: string; id: string; sequence: number }[] = [];
  private running = true;
  private readonly loops: Promise<void>[];
  private turn = 0;

  constructor(
    private readonly publisher: HeraldPublisher,
    private readonly userIds: string[],
    inFlight: number,
  ) {
    this.loops = Array.from({ length: inFlight }, () => this.loop());
  }

  get published(): number {
    return this.sent.length;
  }

  /** Ids sent to `userId`, in the order the dispatcher handles them. */
  idsFor(userId: string): string[] {
    return this.sent
      .filter((event) => event.userId === userId)
      .sort((left, right) => left.sequence - right.sequence)
      .map((event) => event.id);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const userId = this.userIds[this.turn++ % this.userIds.length]!;
      const id = randomUUID();
      const receipt = await this.publisher.syncCipherUpdate({
        Id: id,
        UserId: userId,
        RevisionDate: new Date(),
      });
      this.sent.push({ userId, id, sequence: receipt.sequence });
    }
  }
}

/**
 * A device that comes back while its users' traffic keeps flowing: its gateway holds the
 * connection's live deliveries while it reads the backlog, then sends the backlog and after it
 * what was held, without what the backlog already carried. These tests keep traffic flowing
 * through the whole reconnect, so live deliveries reach the gateway during the replay (reading a
 * backlog of hundreds takes one NATS round trip per message).
 */
describe('replay while live traffic flows', () => {
  const namespace = testNamespace('rpl');
  const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace, HERALD_LOG_LEVEL: 'info' };
  let issuer: TestIssuer;
  let publisher: HeraldPublisher;
  let nats: NatsConnection;
  let manager: JetStreamManager;
  const services: ServiceProcess[] = [];
  const devices: Device[] = [];
  let gateway: ServiceProcess;

  const startGateway = async (extra: Record<string, string> = {}) => {
    const service = await ServiceProcess.start('gateway', {
      ...env,
      HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
      // Far above any backlog here: these tests are about held traffic, not the backlog bound.
      HERALD_REPLAY_MAX_MESSAGES: '100000',
      ...extra,
    });
    services.push(service);
    return service;
  };
  const newDevice = (userId = randomUUID()) => {
    const device = new Device(issuer, userId);
    devices.push(device);
    return device;
  };
  /** Deliveries to a user stored in DELIVERIES (what a replay reads). */
  const storedFor = async (userId: string): Promise<number> => {
    const names = natsNames(namespace);
    const subject = names.subjects.deliver('user', userId);
    const info = await manager.streams.info(names.streams.deliveries, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  };
  /** Connects and disconnects, so that the device is known and everything from now on is missed. */
  const knownAndAway = async (device: Device, on: ServiceProcess) => {
    await device.connect(on);
    await device.disconnect();
  };
  /** One more event per user, published after everything else: each device must get it last. */
  const markers = async (fleet: Device[]): Promise<string[]> => {
    const byUser = new Map<string, string>();
    for (const device of fleet) {
      if (byUser.has(device.userId)) continue;
      const id = randomUUID();
      await publisher.syncCipherUpdate({ Id: id, UserId: device.userId, RevisionDate: new Date() });
      byUser.set(device.userId, id);
    }
    const ids = fleet.map((device) => byUser.get(device.userId)!);
    await eventually(
      () => fleet.forEach((device, index) => expect(device.received.at(-1)).toBe(ids[index])),
      { timeoutMs: 30_000 },
    );
    return ids;
  };

  beforeAll(async () => {
    issuer = await TestIssuer.create();
    // One dispatcher: each user's deliveries are stored in the order the events were accepted.
    [gateway] = await Promise.all([
      startGateway(),
      ServiceProcess.start('dispatcher', env).then((service) => {
        services.push(service);
        return service;
      }),
    ]);
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

  it('sends live traffic that arrives during a replay after the backlog, in order, each event once', async () => {
    // Eight devices of one user: all its traffic goes to each of them, and each comes back once,
    // while the traffic flows, with a backlog of a few hundred. Deliveries stored between the
    // moment a connection's subscription is live and the moment its replay's end point is read are
    // both held and in the backlog: under traffic this dense every reconnect meets some.
    const userId = randomUUID();
    const fleet = Array.from({ length: 8 }, () => newDevice(userId));
    await Promise.all(fleet.map((device) => knownAndAway(device, gateway)));
    const traffic = new Traffic(publisher, [userId], 4);
    try {
      for (const [index, device] of fleet.entries()) {
        await eventually(
          async () => expect(await storedFor(userId)).toBeGreaterThanOrEqual(200 + 50 * index),
          { timeoutMs: 30_000 },
        );
        await device.connect(gateway);
      }
      // Traffic goes on until every device has received an event published after it came back.
      const publishedBefore = traffic.idsFor(userId).length;
      await eventually(
        () => fleet.forEach((device) => expect(device.received.length).toBeGreaterThan(publishedBefore)),
        { timeoutMs: 60_000 },
      );
    } finally {
      await traffic.stop();
    }
    const last = await markers(fleet);
    // Everything published for the user since its devices went away, in order, nothing twice,
    // nothing else.
    const expected = traffic.idsFor(userId);
    for (const [index, device] of fleet.entries()) {
      expect(device.received).toEqual([...expected, last[index]]);
    }
    const replays = gateway.logs.filter((line) => line.msg === 'replayed missed deliveries');
    expect(replays).toHaveLength(fleet.length);
    for (const replay of replays) expect(replay.count).toBeGreaterThanOrEqual(200);
    process.stdout.write(
      `\n[replay under traffic] ${traffic.published} events; backlogs replayed: ${replays.map((line) => String(line.count)).join(', ')}\n`,
    );
  }, 120_000);

  it('sends a SyncVault, never a silent gap, when the live traffic held during a replay overflows', async () => {
    // Three held deliveries at most: steady traffic during a replay of hundreds overflows that.
    const bounded = await startGateway({ HERALD_REPLAY_MAX_HELD: '3' });
    const device = newDevice();
    await knownAndAway(device, bounded);
    const traffic = new Traffic(publisher, [device.userId], 4);
    let missed: string[];
    try {
      await eventually(async () => expect(await storedFor(device.userId)).toBeGreaterThanOrEqual(500), {
        timeoutMs: 30_000,
      });
      await device.connect(bounded);
      await eventually(() => expect(device.received).toContain('sync-vault'), { timeoutMs: 30_000 });
    } finally {
      await traffic.stop();
      missed = traffic.idsFor(device.userId);
    }
    const [marker] = await markers([device]);
    const syncAt = device.received.indexOf('sync-vault');
    // The backlog came first, in order; then the SyncVault that stands for what was held (and
    // dropped) during the replay; then live traffic again, up to the marker.
    const backlog = device.received.slice(0, syncAt);
    expect(backlog.length).toBeGreaterThanOrEqual(500);
    expect(backlog).toEqual(missed.slice(0, backlog.length));
    const after = device.received.slice(syncAt + 1);
    expect(after.at(-1)).toBe(marker);
    expect(after.filter((id) => id === 'sync-vault')).toEqual([]);
    // What arrived after the SyncVault is live traffic in order, without repeats.
    const positions = after.slice(0, -1).map((id) => missed.indexOf(id));
    expect(positions.every((position) => position >= backlog.length)).toBe(true);
    expect([...positions].sort((left, right) => left - right)).toEqual(positions);
    expect(new Set(positions).size).toBe(positions.length);
    expect(await bounded.metric('herald_gateway_replays_total', { outcome: 'sync-vault' })).toBe(1);
  }, 120_000);
});
