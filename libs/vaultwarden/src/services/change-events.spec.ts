import { describe, expect, it } from '@jest/globals';

import { MAX_RECIPIENT_USERS, PushType } from '@herald/contracts';

import { type CapturedChange, eventsForBatch } from './change-events';

const USER = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const ORG = '33333333-3333-4333-8333-333333333333';
const ITEM = '44444444-4444-4444-8444-444444444444';
const NOW = new Date('2026-12-01T12:00:00Z');
const options = { installationId: 'abc123', now: NOW, bulkThreshold: 3 };

let sequence = 0;
function change(
  table: string,
  op: CapturedChange['op'],
  fields: Record<string, unknown>,
  recipients: string[] | null = null,
): CapturedChange {
  sequence += 1;
  return { id: String(sequence), table, op, fields, recipients, createdAt: NOW };
}

describe('eventsForBatch', () => {
  it('maps each captured table to the event Vaultwarden sends, with a stable id and no context', () => {
    const batch = [
      change('ciphers', 'INSERT', { uuid: ITEM, user_uuid: USER, updated_at: '2026-12-01T11:00:00.123456' }),
      change('ciphers', 'UPDATE', { uuid: ITEM, user_uuid: USER, deleted_at: '2026-12-01T11:00:01' }),
      change('folders', 'INSERT', { uuid: ITEM, user_uuid: USER, updated_at: '2026-12-01T11:00:00' }),
      change('folders', 'UPDATE', { uuid: ITEM, user_uuid: USER }),
      change('sends', 'DELETE', { uuid: ITEM, user_uuid: USER, revision_date: '2026-12-01T11:00:00' }),
      change('auth_requests', 'INSERT', { uuid: ITEM, user_uuid: USER }),
      change('auth_requests', 'UPDATE', { uuid: ITEM, user_uuid: USER, approved: true }),
      change('users', 'UPDATE', { uuid: USER, updated_at: '2026-12-01T11:00:00' }),
    ];
    const { events, skipped } = eventsForBatch(batch, options);
    expect(skipped).toEqual([]);
    expect(events.map((event) => event.type)).toEqual([
      PushType.SyncCipherCreate,
      PushType.SyncCipherUpdate,
      PushType.SyncFolderCreate,
      PushType.SyncFolderUpdate,
      PushType.SyncSendDelete,
      PushType.AuthRequest,
      PushType.AuthRequestResponse,
      PushType.LogOut,
    ]);
    expect(events[0]).toEqual({
      id: `vw-abc123-${batch[0]!.id}`,
      type: PushType.SyncCipherCreate,
      // Vaultwarden's timestamps hold UTC without a zone.
      payload: {
        Id: ITEM,
        UserId: USER,
        OrganizationId: null,
        CollectionIds: null,
        RevisionDate: new Date('2026-12-01T11:00:00.123Z'),
      },
      contextId: null,
      acceptedAt: NOW,
    });
    expect(events[3]!.payload).toEqual({ Id: ITEM, UserId: USER, RevisionDate: NOW });
    expect(events[7]!.payload).toEqual({ UserId: USER, Date: new Date('2026-12-01T11:00:00Z') });
  });

  it('names the recipients of an organization item, and sends none when nobody may see it', () => {
    const { events, skipped } = eventsForBatch(
      [
        change('ciphers', 'UPDATE', { uuid: ITEM, organization_uuid: ORG }, [OTHER, USER]),
        change('ciphers', 'UPDATE', { uuid: ITEM, organization_uuid: ORG }, []),
      ],
      options,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      payload: { Id: ITEM, UserId: null, OrganizationId: ORG },
      recipients: { users: [USER, OTHER] },
    });
    expect(skipped).toEqual([expect.objectContaining({ reason: 'nobody may see this organization item' })]);
  });

  it('splits an audience larger than one event may name', () => {
    const audience = Array.from(
      { length: MAX_RECIPIENT_USERS + 1 },
      (_, index) => `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`,
    );
    const { events } = eventsForBatch(
      [change('ciphers', 'UPDATE', { uuid: ITEM, organization_uuid: ORG }, audience)],
      options,
    );
    expect(events.map((event) => event.recipients?.users.length)).toEqual([MAX_RECIPIENT_USERS, 1]);
    expect(new Set(events.map((event) => event.id)).size).toBe(2);
  });

  it("drops a cipher's earlier changes in a batch that deletes it", () => {
    const batch = [
      change('folders_ciphers', 'DELETE', { cipher_uuid: ITEM, user_uuid: USER }),
      change('ciphers', 'DELETE', { uuid: ITEM, user_uuid: USER }),
    ];
    const { events } = eventsForBatch(batch, options);
    expect(events.map((event) => event.type)).toEqual([PushType.SyncLoginDelete]);
  });

  it('folds more cipher changes of one user than the threshold into one SyncVault', () => {
    const ids = ['a', 'b', 'c', 'd'].map((letter) => ITEM.replace(/^4/, letter));
    const batch = [
      ...ids.map((id) => change('ciphers', 'INSERT', { uuid: id, user_uuid: USER })),
      change('ciphers', 'INSERT', { uuid: ITEM, organization_uuid: ORG }, [USER, OTHER]),
      change('folders', 'INSERT', { uuid: ITEM, user_uuid: USER }),
    ];
    const { events } = eventsForBatch(batch, options);
    expect(events.map((event) => [event.type, event.recipients?.users])).toEqual([
      // The organization cipher still reaches the other user; USER syncs instead.
      [PushType.SyncCipherCreate, [OTHER]],
      [PushType.SyncFolderCreate, undefined],
      [PushType.SyncVault, undefined],
    ]);
    expect(events[2]!.payload).toEqual({ UserId: USER, Date: NOW });
  });
});
