import { afterEach, describe, expect, it } from '@jest/globals';

import { PushType } from '@herald/contracts';
import { CloseReason } from '@herald/signalr';
import { eventually } from '@herald/testing';

import { GatewayCore, newId } from '../testing/gateway-core.fixture';

/**
 * The gateway core on the in-memory broker, real sockets on loopback: org-wide fan-out, dedupe,
 * catch-up after a broker outage, and slow consumers.
 */
describe('gateway core: fan-out, dedupe, catch-up, slow consumers (memory engine)', () => {
  let core: GatewayCore | undefined;

  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it('fans an org-wide delivery out to every member once, and drops an event a group already had', async () => {
    core = await GatewayCore.start();
    const org = newId();
    const clients = await Promise.all([1, 2, 3].map(() => core!.connect(newId(), newId(), [org])));
    await core.publish('org', org, 'o1');
    // The same event again (a redelivered event republished by another dispatcher).
    await core.publish('org', org, 'o1-again', { eventId: 'o1' });
    await core.publish('org', org, 'o2');
    for (const client of clients) expect(await client.received(2)).toEqual(['o1', 'o2']);
    expect(await core.metric('herald_gateway_deliveries_duplicate_total')).toBe(1);
    expect(await core.metric('herald_gateway_messages_written_total')).toBe(6);
  });

  it('after a broker outage reads back what it missed, once, and resumes the watermark', async () => {
    core = await GatewayCore.start();
    const [user, org] = [newId(), newId()];
    const client = await core.connect(user, newId(), [org]);
    // Delivered live after the last watermark sample: read back too, and dropped by the dedupe.
    await core.publish('org', org, 'before');
    await client.received(1);
    core.broker.simulateOutage(true);
    await core.publish('org', org, 'during-1');
    await core.publish('user', user, 'during-2');
    expect(client.ids).toEqual(['before']);
    const watermark = core.watermark.current;
    await core.watermark.refresh();
    expect(core.watermark.current).toBe(watermark);
    core.broker.simulateOutage(false);
    // Read back group by group (each group in stream order).
    expect((await client.received(3)).slice().sort()).toEqual(['before', 'during-1', 'during-2']);
    await eventually(async () => {
      expect(await core!.metric('herald_gateway_caught_up_deliveries_total')).toBe(3);
    });
    await core.publish('org', org, 'after');
    // `after` was written after the catch-up: a repeat would have come before it.
    expect(await client.received(4)).toHaveLength(4);
    expect(client.ids.at(-1)).toBe('after');
    await core.watermark.refresh();
    expect(core.watermark.current).toBe(await core.lastSequence());
  });

  it('after an outage longer than the log keeps, sends each device a SyncVault, then what the log still holds', async () => {
    // DELIVERIES keeps 4 messages: what is older leaves the log, as past the replay window.
    core = await GatewayCore.start({ maxMessagesPerStream: 4 });
    const user = newId();
    const client = await core.connect(user, newId());
    await core.publish('user', user, 'before');
    await client.received(1);
    await core.watermark.refresh();
    core.broker.simulateOutage(true);
    for (let index = 1; index <= 6; index += 1) await core.publish('user', user, `during-${index}`);
    // during-1 and during-2 are gone: the stream's first sequence is past the watermark.
    core.broker.simulateOutage(false);
    expect(await client.received(6)).toEqual([
      'before',
      `type-${PushType.SyncVault}`,
      'during-3',
      'during-4',
      'during-5',
      'during-6',
    ]);
    await core.publish('user', user, 'after');
    // `after` was written after the catch-up: nothing else came before it.
    expect(await client.received(7)).toHaveLength(7);
    expect(client.ids.at(-1)).toBe('after');
    expect(await core.metric('herald_gateway_catch_up_sync_vaults_total')).toBe(1);
  });

  it('closes a client that stops reading at the buffer limit and resumes it from the oldest watermark', async () => {
    core = await GatewayCore.start({ signalr: { maxBufferedBytes: 64 * 1024 } });
    const [user, device] = [newId(), newId()];
    const slow = await core.connect(user, device);
    await core.publish('user', user, 'seen');
    await slow.received(1);
    // Heard from after `seen` reached the socket: a timeout close would resume after it.
    await core.settle(slow);
    slow.pause();
    const big = 'x'.repeat(32 * 1024);
    const server = core.server;
    const open = () => [...server.liveConnections()].find((connection) => connection.state !== 'closed');
    for (let index = 0; index < 2000 && open(); index += 1) {
      await core.publish('user', user, `${index}:${big}`);
    }
    expect(open()).toBeUndefined();
    const [connection] = [...server.liveConnections()];
    expect(connection?.closeReason).toBe(CloseReason.SlowConsumer);
    slow.terminate();
    await eventually(async () => {
      expect(await core!.presence(user, device)).toMatchObject({ state: 'disconnected' });
    });
    // The refused writes are newer than its last ping: it resumes from the oldest sample kept.
    expect(await core.presence(user, device)).toMatchObject({ resumeSequence: 0 });
    expect(server.closedByReason.get(CloseReason.SlowConsumer)).toBe(1);
  });
});
