import { describe, expect, it } from '@jest/globals';

import { deliveryCodec, encodeMessagePack, eventCodec } from './codec';
import { ClientType } from './device-type';
import { HubMethod, HubName } from './delivery';
import { type HeraldEvent } from './event';
import { PushType } from './push-type';
import { ValidationError } from './validation.error';

const event: HeraldEvent<PushType.SyncCipherUpdate> = {
  id: 'c0ffee00-0000-4000-8000-000000000001',
  type: PushType.SyncCipherUpdate,
  payload: {
    Id: '0d4f3b1e-2c47-4e7b-9e2b-6b1f8a0c1d2e',
    UserId: '5a6b7c8d-1e2f-4a3b-8c9d-0e1f2a3b4c5d',
    RevisionDate: new Date('2024-05-01T10:11:12.123Z'),
  },
  contextId: 'device-1',
  acceptedAt: new Date('2024-05-01T10:11:13Z'),
};

describe('eventCodec', () => {
  it('round-trips an event with dates as timestamps', () => {
    expect(eventCodec.decode(eventCodec.encode(event))).toEqual(event);
  });

  it('writes standard MessagePack (no msgpackr records): the timestamp extension -1 for dates', () => {
    const bytes = eventCodec.encode(event);
    expect(bytes[0]! & 0xf0).toBe(0x80); // a fixmap, not a record extension
    expect(bytes.includes(Buffer.from([0xd7, 0xff]))).toBe(true);
  });

  it('rejects garbage and invalid events with a ValidationError', () => {
    expect(() => eventCodec.decode(Buffer.from([0xc1]))).toThrow(ValidationError);
    expect(() => eventCodec.decode(Buffer.from('hello'))).toThrow(ValidationError);
    expect(() => eventCodec.decode(encodeMessagePack({ ...event, type: 256 }))).toThrow(/invalid push type/);
    expect(() => eventCodec.decode(encodeMessagePack({ ...event, acceptedAt: 'now' }))).toThrow(/acceptedAt/);
    expect(() => eventCodec.decode(encodeMessagePack({ ...event, payload: { Id: 'x' } }))).toThrow(
      /payload.Id/,
    );
  });
});

describe('deliveryCodec', () => {
  it('round-trips a delivery', () => {
    const delivery = {
      eventId: event.id,
      hub: HubName.Main,
      method: HubMethod.ReceiveMessage,
      clientType: ClientType.All,
      message: { ContextId: null, Type: PushType.SyncVault, Payload: { UserId: 'u', Date: new Date(0) } },
      acceptedAt: 1,
      eventSequence: 7,
    };
    expect(deliveryCodec.decode(deliveryCodec.encode(delivery))).toEqual(delivery);
    expect(() => deliveryCodec.decode(encodeMessagePack({ ...delivery, hub: 'other' }))).toThrow(
      ValidationError,
    );
  });
});
