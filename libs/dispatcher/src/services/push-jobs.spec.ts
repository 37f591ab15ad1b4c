import { randomUUID } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { type AnyHeraldEvent, ClientType, parseSendRequest, PushType } from '@herald/contracts';

import { pushJobsOf } from './routing';

const USER = randomUUID();
const ORG = randomUUID();

function event(body: unknown): AnyHeraldEvent {
  return {
    id: 'event-1',
    ...parseSendRequest(body),
    acceptedAt: new Date(1000),
  };
}

describe('pushJobsOf', () => {
  it('pushes to the hub target and leaves out the device that caused the change', () => {
    const [job, ...rest] = pushJobsOf(
      event({
        type: 0,
        payload: { id: randomUUID(), userId: USER, revisionDate: '2026-01-01T00:00:00Z' },
        contextId: 'phone-1',
      }),
    );
    expect(rest).toEqual([]);
    expect(job).toMatchObject({
      jobId: `event-1:push:user:${USER}:0`,
      eventId: 'event-1',
      type: PushType.SyncCipherUpdate,
      target: { kind: 'user', id: USER },
      excludeIdentifier: 'phone-1',
      clientType: ClientType.All,
      acceptedAt: 1000,
    });
  });

  it('sends AuthRequestResponse to the requesting user’s devices, not the anonymous hub', () => {
    const requestId = randomUUID();
    expect(pushJobsOf(event({ type: 16, payload: { id: requestId, userId: USER } }))).toEqual([
      expect.objectContaining({ target: { kind: 'user', id: USER } }),
    ]);
  });

  it('keeps the organization target and the notification client type', () => {
    const [job] = pushJobsOf(
      event({
        type: 20,
        payload: {
          id: randomUUID(),
          priority: 0,
          global: false,
          clientType: ClientType.Mobile,
          organizationId: ORG,
          creationDate: '2026-01-01T00:00:00Z',
          revisionDate: '2026-01-01T00:00:00Z',
        },
      }),
    );
    expect(job).toMatchObject({
      target: { kind: 'org', id: ORG },
      clientType: ClientType.Mobile,
      excludeIdentifier: null,
    });
  });

  it('makes no job for an event with no target', () => {
    expect(
      pushJobsOf(event({ type: 0, payload: { id: randomUUID(), revisionDate: '2026-01-01T00:00:00Z' } })),
    ).toEqual([]);
  });
});
