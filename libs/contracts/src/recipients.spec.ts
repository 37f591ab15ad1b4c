import { describe, expect, it } from '@jest/globals';

import { eventCodec, encodeMessagePack } from './codec';
import { parseSendRequest, validateEvent } from './event';
import { MAX_RECIPIENT_USERS, normalizeRecipients } from './recipients';
import { ValidationError } from './validation.error';

const USER_A = '5A6B7C8D-1E2F-4A3B-8C9D-0E1F2A3B4C5D';
const USER_B = '0d4f3b1e-2c47-4e7b-9e2b-6b1f8a0c1d2e';
const CIPHER = '9b2e4c1a-0d3f-4e5a-8b6c-7d8e9f0a1b2c';
const ORG = '6a1d9c2b-0c8e-4d55-9f3e-b0a100000001';

/** An organization cipher as Vaultwarden sends it: UserId null, OrganizationId set. */
const orgCipher = {
  id: CIPHER,
  userId: null,
  organizationId: ORG,
  revisionDate: '2026-01-01T00:00:00Z',
};

function rejectionOf(action: () => unknown): ValidationError {
  try {
    action();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('recipients on /send', () => {
  it('is absent when not given or null (never an empty object)', () => {
    expect('recipients' in parseSendRequest({ type: 1, payload: orgCipher })).toBe(false);
    expect('recipients' in parseSendRequest({ type: 1, payload: orgCipher, recipients: null })).toBe(false);
  });

  it('takes users in any letter case, lowercased and without duplicates, payload unchanged', () => {
    const request = parseSendRequest({
      Type: 1,
      Payload: orgCipher,
      Recipients: { Users: [USER_A, USER_B, USER_A.toLowerCase(), USER_B.toUpperCase()] },
    });
    expect(request.recipients).toEqual({ users: [USER_A.toLowerCase(), USER_B] });
    expect(request.payload).toMatchObject({ UserId: null, OrganizationId: ORG });
  });

  it.each([
    [{ users: [] }, 'recipients.users', /expected 1 to 10000 user ids, got 0/],
    [{ users: [USER_A, USER_B, USER_A, 'nope'] }, 'recipients.users[3]', /expected a GUID/],
    [{ users: USER_A }, 'recipients.users', /array/],
    [{}, 'recipients.users', /array/],
    [[USER_A], 'recipients', /expected an object/],
    [{ users: [USER_A], organizations: [ORG] }, 'recipients.organizations', /unknown key/],
    [{ users: [USER_A], Users: [USER_B] }, 'recipients.users', /twice/],
  ])('refuses %j at %s', (recipients, path, message) => {
    const rejection = rejectionOf(() => parseSendRequest({ type: 1, payload: orgCipher, recipients }));
    expect(rejection.path).toBe(path);
    expect(rejection.message).toMatch(message);
  });

  it(`takes up to ${MAX_RECIPIENT_USERS} users and refuses one more`, () => {
    const users = Array.from(
      { length: MAX_RECIPIENT_USERS + 1 },
      (_, index) => `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`,
    );
    expect(normalizeRecipients({ users: users.slice(0, -1) }, 1)?.users).toHaveLength(MAX_RECIPIENT_USERS);
    expect(rejectionOf(() => normalizeRecipients({ users }, 1)).path).toBe('recipients.users');
  });

  it('is refused for AuthRequestResponse (16), routed by its Id to the anonymous hub', () => {
    const rejection = rejectionOf(() =>
      parseSendRequest({
        type: 16,
        payload: { id: CIPHER, userId: USER_B },
        recipients: { users: [USER_B] },
      }),
    );
    expect(rejection.path).toBe('recipients');
    expect(rejection.problem).toBe(
      'AuthRequestResponse is routed to the anonymous hub by its Id; recipients are not allowed',
    );
  });

  it('is allowed on a type Herald does not know', () => {
    expect(parseSendRequest({ type: 28, payload: {}, recipients: { users: [USER_B] } }).recipients).toEqual({
      users: [USER_B],
    });
  });
});

describe('recipients in the event codec', () => {
  const request = parseSendRequest({ type: 1, payload: orgCipher, recipients: { users: [USER_A, USER_B] } });
  const event = { id: 'event-1', ...request, acceptedAt: new Date(1_000) };

  it('round-trips', () => {
    expect(eventCodec.decode(eventCodec.encode(event))).toEqual(event);
  });

  it('leaves the key out when absent, and old events without it still decode', () => {
    const { recipients: _dropped, ...old } = event;
    const bytes = eventCodec.encode(old);
    expect(bytes.includes(Buffer.from('recipients'))).toBe(false);
    expect('recipients' in eventCodec.decode(bytes)).toBe(false);
    expect('recipients' in eventCodec.decode(encodeMessagePack({ ...old, recipients: null }))).toBe(false);
  });

  it('is re-validated when decoded', () => {
    expect(() => validateEvent({ ...event, recipients: { users: [] } })).toThrow(/recipients.users/);
    expect(() => validateEvent({ ...event, recipients: { users: ['x'] } })).toThrow(/recipients.users\[0\]/);
    expect(validateEvent({ ...event, recipients: { users: [USER_A, USER_A] } }).recipients).toEqual({
      users: [USER_A.toLowerCase()],
    });
  });
});
