import { describe, expect, it } from '@jest/globals';

import {
  type BridgeHeartbeat,
  type GatewayHeartbeat,
  heartbeatCodec,
  type PushWorkerHeartbeat,
} from './heartbeat';
import { ValidationError } from './validation.error';

const gateway: GatewayHeartbeat = {
  gatewayId: 'gw-1',
  host: 'host-a',
  version: '1.2.3',
  startedAt: 1_714_000_000_000,
  at: 1_714_000_005_000,
  connections: { hub: 3, 'anonymous-hub': 1 },
  users: 2,
  subscriptions: 5,
  deliveriesPerSecond: 1.5,
  bytesPerSecond: 300,
  slowClosed: 0,
  replays: 1,
  watermark: 42,
};

const worker: PushWorkerHeartbeat = {
  workerId: 'worker-1',
  host: 'host-b',
  version: '1.2.3',
  startedAt: 1_714_000_000_000,
  at: 1_714_000_005_000,
  sends: { fcm: { sent: 3, failed: 1 } },
};

const bridge: BridgeHeartbeat = {
  bridgeId: 'vw-1',
  source: 'vaultwarden',
  host: 'host-c',
  version: '1.2.3',
  startedAt: 1_714_000_000_000,
  at: 1_714_000_005_000,
  leader: true,
  pending: 2,
  lagSeconds: 0.5,
  published: 10,
};

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('heartbeatCodec', () => {
  it('round-trips both kinds, as the plain JSON of the beat (the wire format deployed peers read)', () => {
    const encoded = heartbeatCodec.encode({ kind: 'gateway', beat: gateway });
    expect(JSON.parse(Buffer.from(encoded).toString('utf8'))).toEqual(gateway);
    expect(heartbeatCodec.decode(encoded)).toEqual({ kind: 'gateway', beat: gateway });
    expect(heartbeatCodec.decode(heartbeatCodec.encode({ kind: 'push-worker', beat: worker }))).toEqual({
      kind: 'push-worker',
      beat: worker,
    });
    expect(heartbeatCodec.decode(heartbeatCodec.encode({ kind: 'bridge', beat: bridge }))).toEqual({
      kind: 'bridge',
      beat: bridge,
    });
  });

  it('rejects garbage and incomplete beats with a ValidationError naming the field', () => {
    expect(() => heartbeatCodec.decode(Buffer.from('{'))).toThrow(ValidationError);
    expect(() => heartbeatCodec.decode(json([1]))).toThrow(ValidationError);
    expect(() => heartbeatCodec.decode(json({ ...gateway, watermark: 'x' }))).toThrow(/watermark/);
    expect(() => heartbeatCodec.decode(json({ ...gateway, connections: { hub: 1 } }))).toThrow(
      /connections.anonymous-hub/,
    );
    expect(() => heartbeatCodec.decode(json({ ...worker, sends: { fcm: { sent: 'a' } } }))).toThrow(
      /sends.fcm.sent/,
    );
    expect(() => heartbeatCodec.decode(json({ ...worker, at: undefined }))).toThrow(/at/);
    expect(() => heartbeatCodec.decode(json({ ...bridge, leader: 'yes' }))).toThrow(/leader/);
    expect(() => heartbeatCodec.decode(json({ ...bridge, pending: null }))).toThrow(/pending/);
  });
});
