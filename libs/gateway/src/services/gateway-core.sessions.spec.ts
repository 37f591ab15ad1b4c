import { afterEach, describe, expect, it } from '@jest/globals';

import { ClientType, PushType } from '@herald/contracts';
import { type DeliveryLog, type DeliverySubscriber } from '@herald/messaging';
import { eventually } from '@herald/testing';

import { GatewayCore, newId } from '../testing/gateway-core.fixture';
import { REPLAY_PAGE_SIZE } from './replay.service';

/**
 * The gateway core on the in-memory broker, real sockets on loopback: connect, disconnect,
 * reconnect with replay, drain, and live traffic held while a replay runs.
 */
describe('gateway core: sessions and replay (memory engine)', () => {
  let core: GatewayCore | undefined;

  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  /** Waits until the device's close was recorded. */
  async function stopped(gateway: GatewayCore, user: string, device: string): Promise<void> {
    await eventually(async () => {
      expect(await gateway.presence(user, device)).toMatchObject({ state: 'disconnected' });
    });
  }

  it('undoes every step of a connection whose setup failed: no membership, no subscription left', async () => {
    const failing = new Set<string>();
    core = await GatewayCore.start({
      deliverySubscriber: (inner) =>
        new Proxy(inner, {
          get(target, key) {
            if (key === 'subscribe') {
              const subscribe: DeliverySubscriber['subscribe'] = (kind, id, handler) =>
                failing.has(id)
                  ? Promise.reject(new Error('flush rejected during a reconnect'))
                  : target.subscribe(kind, id, handler);
              return subscribe;
            }
            const value: unknown = Reflect.get(target, key);
            return typeof value === 'function'
              ? (value as (...args: unknown[]) => unknown).bind(target)
              : value;
          },
        }),
    });
    const [user, device, organization] = [newId(), newId(), newId()];
    failing.add(organization);
    const groupsBefore = await core.metric('herald_gateway_subscribed_groups');
    await expect(core.connect(user, device, [organization])).rejects.toThrow(/handshake refused/);
    // The user's group was subscribed for the failed connection alone: it must be gone again.
    await eventually(
      async () => expect(await core!.metric('herald_gateway_subscribed_groups')).toBe(groupsBefore),
      { timeoutMs: 2000 },
    );
    // A later connection of the same user is the only member its deliveries reach.
    failing.delete(organization);
    const client = await core.connect(user, newId());
    await core.publish('user', user, 'after');
    expect(await client.received(1)).toEqual(['after']);
  });

  it('delivers live, records where a device stopped, and replays what it missed on reconnect', async () => {
    core = await GatewayCore.start();
    const [user, device] = [newId(), newId()];
    const first = await core.connect(user, device);
    expect(await core.presence(user, device)).toMatchObject({ state: 'connected' });
    await core.publish('user', user, 'e1');
    expect(await first.received(1)).toEqual(['e1']);
    await core.settle(first);
    await first.disconnect();
    await stopped(core, user, device);
    expect(await core.presence(user, device)).toMatchObject({ state: 'disconnected', resumeSequence: 1 });

    await core.publish('user', user, 'e2');
    await core.publish('user', user, 'e3');
    const second = await core.connect(user, device);
    await core.publish('user', user, 'e4');
    // The backlog in order, then live traffic; nothing from before the resume point.
    expect(await second.received(3)).toEqual(['e2', 'e3', 'e4']);
    expect(await core.metric('herald_gateway_replays_total', { outcome: 'deliveries' })).toBe(1);
  });

  it('replays what is meant for the device even past HERALD_REPLAY_MAX_MESSAGES deliveries for other client types', async () => {
    core = await GatewayCore.start({ config: { HERALD_REPLAY_MAX_MESSAGES: 3 } });
    const [user, device] = [newId(), newId()];
    const first = await core.connect(user, device);
    await core.settle(first);
    await first.disconnect();
    await stopped(core, user, device);
    // The fixture's devices are browser extensions: mobile deliveries are not theirs. More than a
    // page of them, so the device's own are found on a later page.
    for (let index = 0; index < REPLAY_PAGE_SIZE + 5; index += 1)
      await core.publish('user', user, `mobile-${index}`, { clientType: ClientType.Mobile });
    await core.publish('user', user, 'mine-1', { clientType: ClientType.Browser });
    await core.publish('user', user, 'mobile-late', { clientType: ClientType.Mobile });
    await core.publish('user', user, 'mine-2', { clientType: ClientType.All });
    const second = await core.connect(user, device);
    await core.publish('user', user, 'live');
    // The two that are its own, then live traffic: neither hidden behind the others nor a SyncVault.
    expect(await second.received(3)).toEqual(['mine-1', 'mine-2', 'live']);
    expect(await core.metric('herald_gateway_replays_total', { outcome: 'deliveries' })).toBe(1);
  });

  it('sends one SyncVault when more than HERALD_REPLAY_MAX_MESSAGES of the missed deliveries are its own', async () => {
    core = await GatewayCore.start({ config: { HERALD_REPLAY_MAX_MESSAGES: 3 } });
    const [user, device] = [newId(), newId()];
    const first = await core.connect(user, device);
    await core.settle(first);
    await first.disconnect();
    await stopped(core, user, device);
    for (let index = 0; index < 5; index += 1) {
      await core.publish('user', user, `mobile-${index}`, { clientType: ClientType.Mobile });
      await core.publish('user', user, `mine-${index}`, { clientType: ClientType.Browser });
    }
    const second = await core.connect(user, device);
    await core.publish('user', user, 'live');
    expect(await second.received(2)).toEqual([`type-${PushType.SyncVault}`, 'live']);
  });

  it('a device whose previous connection is still open resumes from the last sign of life of that connection', async () => {
    core = await GatewayCore.start();
    const [user, device] = [newId(), newId()];
    // A half-dead socket: open on the gateway, the client silent since `h1`.
    const halfDead = await core.connect(user, device);
    await core.publish('user', user, 'h1');
    await halfDead.received(1);
    await core.settle(halfDead);
    await core.publish('user', user, 'h2');
    await halfDead.received(2);
    const fresh = await core.connect(user, device);
    // The gateway holding it answers with the watermark as of its last ping: only h2 is replayed.
    expect(await fresh.received(1)).toEqual(['h2']);
    await core.publish('user', user, 'h3');
    expect(await fresh.received(2)).toEqual(['h2', 'h3']);
  });

  it('a device that is new gets no replay, only live traffic', async () => {
    core = await GatewayCore.start();
    const user = newId();
    await core.publish('user', user, 'before');
    const client = await core.connect(user, newId());
    await core.publish('user', user, 'after');
    expect(await client.received(1)).toEqual(['after']);
  });

  it('drain (SIGTERM) records every device with a fresh watermark, then tells clients to reconnect', async () => {
    core = await GatewayCore.start();
    const [user, device] = [newId(), newId()];
    const client = await core.connect(user, device);
    for (const marker of ['d1', 'd2', 'd3']) await core.publish('user', user, marker);
    await client.received(3);
    // No sample was taken since the deliveries: only the drain's own refresh can know of them.
    await core.hub.beforeApplicationShutdown();
    expect(await core.presence(user, device)).toMatchObject({
      state: 'disconnected',
      resumeSequence: await core.lastSequence(),
    });
    await client.until(() => client.closed);
    expect(client.close).toEqual({ error: undefined, allowReconnect: true });
  });

  it('drain: a client that does not answer the close is recorded up to its last sign of life', async () => {
    core = await GatewayCore.start();
    const [user, device] = [newId(), newId()];
    const client = await core.connect(user, device);
    await core.publish('user', user, 'seen');
    await client.received(1);
    await core.settle(client);
    const heard = await core.lastSequence();
    // The client stops reading: what is written from now on may never be read.
    client.socket.pause();
    await core.publish('user', user, 'unread');
    await core.hub.beforeApplicationShutdown();
    // Not the drain's fresh watermark (which counts 'unread' as handed over): a reconnect replays it.
    expect(await core.presence(user, device)).toMatchObject({ state: 'disconnected', resumeSequence: heard });
    expect(heard).toBeLessThan(await core.lastSequence());
    client.socket.resume();
  });

  describe('live traffic during a replay', () => {
    /** Holds the replay's reads until `open()`, so the test can publish while the replay runs. */
    function gatedLog() {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let reading!: () => void;
      const started = new Promise<void>((resolve) => (reading = resolve));
      const wrap = (log: DeliveryLog): DeliveryLog => ({
        bounds: () => log.bounds(),
        latestSequence: (subject) => log.latestSequence(subject),
        readAfter: async (subject, after, upTo, limit) => {
          reading();
          await gate;
          return log.readAfter(subject, after, upTo, limit);
        },
      });
      return { wrap, open, started };
    }

    async function awayWithBacklog(gateway: GatewayCore, user: string, device: string) {
      const client = await gateway.connect(user, device);
      await gateway.settle(client);
      await client.disconnect();
      await stopped(gateway, user, device);
      await gateway.publish('user', user, 'b1');
      await gateway.publish('user', user, 'b2');
    }

    it('is held and sent after the backlog, in order, without what the replay already sent', async () => {
      const gated = gatedLog();
      core = await GatewayCore.start({ deliveryLog: gated.wrap });
      const [user, device] = [newId(), newId()];
      await awayWithBacklog(core, user, device);
      const reconnecting = core.connect(user, device);
      await gated.started;
      await core.publish('user', user, 'l1');
      // A redelivered event the backlog also holds: sent once.
      await core.publish('user', user, 'b2', { eventId: 'b2' });
      await core.publish('user', user, 'l2');
      gated.open();
      const client = await reconnecting;
      await core.publish('user', user, 'l3');
      // l3 was written after the release: a repeat would have come before it.
      expect(await client.received(5)).toEqual(['b1', 'b2', 'l1', 'l2', 'l3']);
    });

    it('past HERALD_REPLAY_MAX_HELD is dropped for one SyncVault after the backlog, never a silent gap', async () => {
      const gated = gatedLog();
      core = await GatewayCore.start({ deliveryLog: gated.wrap, config: { HERALD_REPLAY_MAX_HELD: 2 } });
      const [user, device] = [newId(), newId()];
      await awayWithBacklog(core, user, device);
      const reconnecting = core.connect(user, device);
      await gated.started;
      for (const marker of ['l1', 'l2', 'l3']) await core.publish('user', user, marker);
      gated.open();
      const client = await reconnecting;
      await client.received(3);
      await core.publish('user', user, 'l4');
      expect(await client.received(4)).toEqual(['b1', 'b2', `type-${PushType.SyncVault}`, 'l4']);
      expect(client.messages[2]).toMatchObject({ Type: PushType.SyncVault, Payload: { UserId: user } });
      expect(await core.metric('herald_gateway_replays_total', { outcome: 'sync-vault' })).toBe(1);
    });
  });
});
