import { randomUUID } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { ClientType, type PushJob, type PushTargetKind, PushType } from '@herald/contracts';

import { targetQueryOf } from './push-targets';

const VAULT: string = randomUUID();
const RELAY: string = randomUUID();
const ID: string = randomUUID();

function job(kind: PushTargetKind, id = ID, relayInstallationId?: string): PushJob {
  return {
    jobId: 'job-1',
    eventId: 'event-1',
    type: PushType.SyncVault,
    payload: {},
    contextId: null,
    target: { kind, id },
    excludeIdentifier: 'acting-device',
    clientType: ClientType.All,
    acceptedAt: 0,
    ...(relayInstallationId ? { relayInstallationId } : {}),
  };
}

describe('targetQueryOf', () => {
  it('keeps a relay send inside the calling installation’s namespace', () => {
    expect(targetQueryOf(job('user', ID, RELAY), VAULT)).toEqual({
      namespaces: [RELAY],
      userId: ID,
      excludeIdentifier: 'acting-device',
      deviceTypes: undefined,
    });
    expect(targetQueryOf(job('org', ID, RELAY), VAULT)).toMatchObject({
      namespaces: [RELAY],
      organizationId: ID,
    });
    expect(targetQueryOf(job('installation', RELAY.toUpperCase(), RELAY), VAULT)).toMatchObject({
      namespaces: [RELAY],
      everyone: true,
    });
    expect(targetQueryOf(job('installation', VAULT, RELAY), VAULT)).toBeUndefined();
  });

  it('sends a vault event to the users’ own registrations and the vault installation’s', () => {
    expect(targetQueryOf(job('user'), VAULT)).toMatchObject({ namespaces: [null, VAULT], userId: ID });
    expect(targetQueryOf(job('org'), VAULT)).toMatchObject({ namespaces: [null, VAULT], organizationId: ID });
    expect(targetQueryOf(job('user'), undefined)).toMatchObject({ namespaces: [null], userId: ID });
  });

  it('sends an installation-wide vault event to the vault installation only, and only when named', () => {
    expect(targetQueryOf(job('installation', VAULT), VAULT)).toMatchObject({
      namespaces: [VAULT],
      everyone: true,
    });
    expect(targetQueryOf(job('installation', RELAY), VAULT)).toBeUndefined();
    expect(targetQueryOf(job('installation', RELAY), undefined)).toBeUndefined();
  });

  it('passes the client type on as device types', () => {
    expect(
      targetQueryOf({ ...job('user'), clientType: ClientType.Mobile }, undefined)?.deviceTypes?.sort(),
    ).toEqual([0, 1, 15]);
  });
});
