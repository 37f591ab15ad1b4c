import { describe, expect, it } from '@jest/globals';

import { parseSendRequest } from './event';
import { PushType, PUSH_TYPES } from './push-type';
import { PAYLOAD_SCHEMAS } from './payload-schemas';
import { ValidationError } from './validation.error';
import { eventCodec } from './codec';
import { MAX_PAYLOAD_DEPTH, MAX_PAYLOAD_VALUES, normalizePayload } from './validation';

const CIPHER_ID = '0D4F3B1E-2C47-4E7B-9E2B-6B1F8A0C1D2E';
const USER_ID = '5a6b7c8d-1e2f-4a3b-8c9d-0e1f2a3b4c5d';

function rejectionOf(action: () => unknown): ValidationError {
  try {
    action();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('parseSendRequest', () => {
  it('accepts camelCase with explicit nulls (self-hosted /send)', () => {
    const request = parseSendRequest({
      type: 0,
      payload: {
        id: CIPHER_ID,
        userId: USER_ID,
        organizationId: null,
        collectionIds: null,
        revisionDate: '2024-05-01T10:11:12.1234567Z',
      },
      contextId: 'device-1',
    });
    expect(request).toEqual({
      type: PushType.SyncCipherUpdate,
      payload: {
        Id: CIPHER_ID.toLowerCase(),
        UserId: USER_ID,
        OrganizationId: null,
        CollectionIds: null,
        RevisionDate: new Date('2024-05-01T10:11:12.123Z'),
      },
      contextId: 'device-1',
    });
  });

  it('accepts PascalCase with nulls omitted (cloud queue)', () => {
    const request = parseSendRequest({
      Type: 5,
      Payload: { UserId: USER_ID.toUpperCase(), Date: '2024-05-01T10:11:12Z' },
    });
    expect(request).toEqual({
      type: PushType.SyncVault,
      payload: { UserId: USER_ID, Date: new Date('2024-05-01T10:11:12Z') },
      contextId: null,
    });
  });

  it('accepts mixed casing and forwards unknown fields', () => {
    const request = parseSendRequest({
      TYPE: 11,
      payload: { UserId: USER_ID, reason: 1, extraField: { nested: true } },
      ContextId: null,
    });
    expect(request.payload).toEqual({ UserId: USER_ID, Reason: 1, ExtraField: { nested: true } });
  });

  it('reads a date without a zone as UTC', () => {
    const request = parseSendRequest({
      type: 4,
      payload: { userId: USER_ID, date: '2024-05-01T10:11:12.5' },
    });
    expect(((request.payload as Record<string, unknown>).Date as Date).toISOString()).toBe(
      '2024-05-01T10:11:12.500Z',
    );
  });

  it.each([
    [{ type: 256, payload: {} }, 'type'],
    [{ type: -1, payload: {} }, 'type'],
    [{ type: 28, payload: [] }, 'payload'],
    [{ type: 28, payload: 'text' }, 'payload'],
    [{ type: 28, payload: { userId: 'not-a-guid' } }, 'payload.userId'],
    [{ type: 200, payload: { OrganizationId: 42 } }, 'payload.OrganizationId'],
    [{ type: 28, payload: { userId: USER_ID, UserId: USER_ID } }, 'payload.UserId'],
    [{ type: '0', payload: {} }, 'type'],
    [{ type: 1.5, payload: {} }, 'type'],
    [{ payload: {} }, 'type'],
    [{ type: 0 }, 'payload'],
    [{ type: 0, payload: [] }, 'payload'],
    [{ type: 0, payload: { id: 'not-a-guid', revisionDate: '2024-01-01T00:00:00Z' } }, 'payload.Id'],
    [{ type: 0, payload: { id: CIPHER_ID } }, 'payload.RevisionDate'],
    [{ type: 0, payload: { id: CIPHER_ID, revisionDate: 'yesterday' } }, 'payload.RevisionDate'],
    [
      { type: 0, payload: { id: CIPHER_ID, revisionDate: '2024-01-01T00:00:00Z', collectionIds: 'x' } },
      'payload.CollectionIds',
    ],
    [{ type: 18, payload: { organizationId: USER_ID, enabled: 'yes' } }, 'payload.Enabled'],
    [{ type: 20, payload: { id: USER_ID, priority: 9 } }, 'payload.Priority'],
    [
      { type: 5, payload: { userId: USER_ID, UserId: USER_ID, date: '2024-01-01T00:00:00Z' } },
      'payload.UserId',
    ],
    [{ type: 5, payload: { userId: USER_ID, date: '2024-01-01T00:00:00Z' }, contextId: 42 }, 'contextId'],
    [{ type: 0, Type: 0, payload: {} }, 'type'],
  ])('rejects %j at %s', (body, path) => {
    expect(rejectionOf(() => parseSendRequest(body)).path).toBe(path);
  });

  it('rejects a body that is not an object', () => {
    for (const body of [null, 'x', 1, [], undefined]) {
      expect(rejectionOf(() => parseSendRequest(body)).message).toMatch(/JSON object/);
    }
  });

  it('validates nested policy objects', () => {
    const base = {
      type: 25,
      payload: {
        organizationId: USER_ID,
        policy: {
          id: CIPHER_ID,
          organizationId: USER_ID,
          type: 1,
          data: null,
          enabled: true,
          creationDate: '2024-01-01T00:00:00Z',
          revisionDate: '2024-01-02T00:00:00Z',
        },
      },
    };
    const request = parseSendRequest(base);
    expect(request.type).toBe(PushType.PolicyChanged);
    expect((request.payload as Record<string, unknown>).Policy).toMatchObject({
      Id: CIPHER_ID.toLowerCase(),
      Type: 1,
      Enabled: true,
    });
    const broken = structuredClone(base);
    delete (broken.payload.policy as Partial<typeof broken.payload.policy>).enabled;
    expect(rejectionOf(() => parseSendRequest(broken)).path).toBe('payload.Policy.Enabled');
  });

  it('never lets input set a prototype', () => {
    const body = JSON.parse(
      `{"type":5,"payload":{"userId":"${USER_ID}","date":"2024-01-01T00:00:00Z","__proto__":{"polluted":true}}}`,
    ) as unknown;
    const request = parseSendRequest(body);
    expect(Object.getPrototypeOf(request.payload)).toBe(Object.prototype);
    expect((request.payload as { polluted?: boolean }).polluted).toBeUndefined();
  });
});

describe('payload bounds', () => {
  /** `{Extra: [[[...]]]}` with the payload itself at level 1 and `levels` levels in all. */
  function nested(levels: number): Record<string, unknown> {
    let inner: unknown[] = [];
    for (let level = 3; level <= levels; level += 1) inner = [inner];
    return { userId: USER_ID, date: '2024-01-01T00:00:00Z', extra: inner };
  }

  it('refuses a payload nested tens of thousands of levels deep, naming the field, without overflowing', () => {
    const rejection = rejectionOf(() => parseSendRequest({ type: 5, payload: nested(50_000) }));
    expect(rejection.path).toBe('payload.Extra');
    expect(rejection.message).toBe(`payload.Extra: nested more than ${MAX_PAYLOAD_DEPTH} levels deep`);
  });

  it(`accepts ${MAX_PAYLOAD_DEPTH} levels, which the event codec encodes, and refuses one more`, () => {
    const request = parseSendRequest({ type: 5, payload: nested(MAX_PAYLOAD_DEPTH) });
    const event = { id: 'e1', ...request, acceptedAt: new Date() };
    expect(eventCodec.decode(eventCodec.encode(event))).toEqual(event);
    expect(
      rejectionOf(() => parseSendRequest({ type: 5, payload: nested(MAX_PAYLOAD_DEPTH + 1) })).path,
    ).toBe('payload.Extra');
  });

  it(`refuses a payload of more than ${MAX_PAYLOAD_VALUES} values, on every path that validates one`, () => {
    const payload = {
      userId: USER_ID,
      date: '2024-01-01T00:00:00Z',
      extra: new Array<number>(MAX_PAYLOAD_VALUES).fill(0),
    };
    expect(rejectionOf(() => parseSendRequest({ type: 5, payload })).message).toBe(
      `payload: holds more than ${MAX_PAYLOAD_VALUES} values`,
    );
    expect(rejectionOf(() => normalizePayload(PushType.SyncVault, payload)).path).toBe('payload');
    payload.extra.length = MAX_PAYLOAD_VALUES - 10;
    expect(() => parseSendRequest({ type: 5, payload })).not.toThrow();
  });
});

describe('types Herald does not know (28-255)', () => {
  it('keeps every key and value as given (no renaming, no date or GUID conversion)', () => {
    const payload = {
      userId: USER_ID.toUpperCase(),
      Date: '2024-05-01T10:11:12Z',
      approverInbox: { pending: [1, 2, 3], note: null },
      count: 7,
    };
    const request = parseSendRequest({ type: 28, payload, contextId: 'device-1' });
    expect(request).toEqual({ type: 28, payload, contextId: 'device-1' });
    expect(Object.keys(request.payload)).toEqual(['userId', 'Date', 'approverInbox', 'count']);
  });

  it('accepts 255, and a payload naming nobody (the dispatcher dead-letters it)', () => {
    expect(parseSendRequest({ type: 255, payload: { anything: 'x' } }).type).toBe(255);
    expect(parseSendRequest({ type: 29, payload: {} }).payload).toEqual({});
  });

  it('bounds the payload as for known types', () => {
    let deep: unknown[] = [];
    for (let level = 3; level <= MAX_PAYLOAD_DEPTH + 1; level += 1) deep = [deep];
    const tooDeep = rejectionOf(() => parseSendRequest({ type: 30, payload: { extra: deep } }));
    expect(tooDeep.message).toBe(`payload.extra: nested more than ${MAX_PAYLOAD_DEPTH} levels deep`);
    const tooMany = { extra: new Array<number>(MAX_PAYLOAD_VALUES).fill(1) };
    expect(rejectionOf(() => parseSendRequest({ type: 30, payload: tooMany })).message).toBe(
      `payload: holds more than ${MAX_PAYLOAD_VALUES} values`,
    );
  });

  it('survives the event codec unchanged', () => {
    const request = parseSendRequest({ type: 28, payload: { UserId: USER_ID, extra: { a: [1, 'b'] } } });
    const event = { id: 'e-28', ...request, acceptedAt: new Date(1_000) };
    expect(eventCodec.decode(eventCodec.encode(event))).toEqual(event);
  });
});

describe('LogOut (11)', () => {
  it('keeps Reason (0 KdfChange, 1 KeyRotation) through /send and the event codec', () => {
    for (const reason of [0, 1]) {
      const request = parseSendRequest({ type: 11, payload: { userId: USER_ID, reason } });
      expect(request.payload).toEqual({ UserId: USER_ID, Reason: reason });
      const event = { id: `logout-${reason}`, ...request, acceptedAt: new Date(1_000) };
      expect(eventCodec.decode(eventCodec.encode(event)).payload).toEqual({
        UserId: USER_ID,
        Reason: reason,
      });
    }
  });
});

describe('payload schemas', () => {
  it('has a schema for every PushType', () => {
    expect(PUSH_TYPES).toHaveLength(28);
    for (const type of PUSH_TYPES) {
      expect(PAYLOAD_SCHEMAS[type]).toBeDefined();
    }
  });

  it('accepts Date objects as well as strings (publisher path)', () => {
    const date = new Date('2024-01-01T00:00:00Z');
    expect(normalizePayload(PushType.SyncSettings, { UserId: USER_ID, Date: date })).toEqual({
      UserId: USER_ID,
      Date: date,
    });
  });
});
