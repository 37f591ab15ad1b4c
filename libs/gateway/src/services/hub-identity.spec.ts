import { describe, expect, it } from '@jest/globals';

import { type VerifiedClaims } from '@herald/auth';
import { ClientType } from '@herald/contracts';

import { type AnonymousIdentity, groupsOf, type HubIdentity, hubIdentityFromClaims } from './hub-identity';

const USER = '4c6b3f0e-94ab-4d7b-8e51-ab1200c0ffee';
const ORG_A = '6a1d9c2b-0c8e-4d55-9f3e-b0a100000001';
const ORG_B = 'd3b07384-d9a0-4c1f-8e2a-b0a100000002';
const ORG_C = '0f8e2b1c-7d3a-4b5e-9c6f-1a2b3c4d5e6f';
const INSTALLATION = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const DEVICE = 'abcdef01-2345-6789-abcd-ef0123456789';

/** VerifiedClaims as a caller could hand them over, without going through normalizeClaims. */
function claims(overrides: Partial<VerifiedClaims> = {}): VerifiedClaims {
  return {
    sub: USER,
    scope: ['api'],
    amr: ['Application'],
    device: DEVICE,
    devicetype: 'ChromeExtension',
    orgowner: [],
    orgadmin: [],
    orguser: [],
    orgcustom: [],
    ...overrides,
  };
}

describe('hubIdentityFromClaims', () => {
  it('builds the identity of a Bitwarden access token', () => {
    // What normalizeClaims makes of a Bitwarden token: lists, GUIDs already lowercase.
    const verified = claims({
      scope: ['api', 'offline_access'],
      orgowner: [ORG_A],
      orgadmin: [ORG_B, ORG_A],
    });
    expect(hubIdentityFromClaims(verified)).toEqual({
      kind: 'user',
      userId: USER,
      deviceIdentifier: DEVICE,
      clientType: ClientType.Browser,
      organizationIds: [ORG_A, ORG_B],
    });
  });

  it('merges the four organization claims, deduplicated and lowercased', () => {
    const identity = hubIdentityFromClaims(
      claims({
        orgowner: [ORG_A.toUpperCase()],
        orgadmin: [ORG_B, ORG_A],
        orguser: [ORG_C],
        orgcustom: [ORG_B.toUpperCase(), ORG_C],
      }),
    );
    expect(identity?.organizationIds).toEqual([ORG_A, ORG_B, ORG_C]);
  });

  it('drops organization ids that are not GUIDs', () => {
    const identity = hubIdentityFromClaims(
      claims({ orgowner: ['not-a-guid', ORG_A], orguser: ['', `${ORG_B}x`, '*'], orgcustom: ['>'] }),
    );
    expect(identity?.organizationIds).toEqual([ORG_A]);
  });

  it('has no organizations when the token names none', () => {
    expect(hubIdentityFromClaims(claims())?.organizationIds).toEqual([]);
  });

  it('lowercases the user id', () => {
    expect(hubIdentityFromClaims(claims({ sub: USER.toUpperCase() }))?.userId).toBe(USER);
  });

  it.each([
    ['missing', undefined],
    ['not a GUID', 'internal.Api'],
    ['a GUID with extra text', `${USER}-1`],
    ['empty', ''],
  ])('is undefined when sub is %s', (_name, sub) => {
    expect(hubIdentityFromClaims(claims({ sub }))).toBeUndefined();
  });

  it('keeps the device identifier, or null without one', () => {
    expect(hubIdentityFromClaims(claims())?.deviceIdentifier).toBe(DEVICE);
    expect(hubIdentityFromClaims(claims({ device: undefined }))?.deviceIdentifier).toBeNull();
  });

  it.each<[string | number | undefined, ClientType]>([
    ['ChromeExtension', ClientType.Browser],
    ['chromeextension', ClientType.Browser],
    ['SafariExtension', ClientType.Browser],
    [2, ClientType.Browser],
    ['Android', ClientType.Mobile],
    [1, ClientType.Mobile],
    ['15', ClientType.Mobile],
    ['WindowsDesktop', ClientType.Desktop],
    [16, ClientType.Desktop],
    ['ChromeBrowser', ClientType.Web],
    [9, ClientType.Web],
    ['9', ClientType.Web],
    [26, ClientType.Web],
    ['LinuxCLI', ClientType.Cli],
    [23, ClientType.Cli],
    ['SDK', ClientType.All],
    [21, ClientType.All],
    ['Server', ClientType.All],
    [22, ClientType.All],
    [99, ClientType.All],
    [-1, ClientType.All],
    [2.5, ClientType.All],
    ['Toaster', ClientType.All],
    [undefined, ClientType.All],
  ])('maps devicetype %p to client type %p', (devicetype, clientType) => {
    expect(hubIdentityFromClaims(claims({ devicetype }))?.clientType).toBe(clientType);
  });
});

describe('groupsOf', () => {
  const identity: HubIdentity = {
    kind: 'user',
    userId: USER,
    deviceIdentifier: DEVICE,
    clientType: ClientType.Browser,
    organizationIds: [ORG_A, ORG_B],
  };

  it('joins the user and each organization', () => {
    expect(groupsOf(identity, undefined)).toEqual([
      { kind: 'user', id: USER },
      { kind: 'org', id: ORG_A },
      { kind: 'org', id: ORG_B },
    ]);
  });

  it('joins the installation group when an installation id is configured', () => {
    expect(groupsOf(identity, INSTALLATION)).toEqual([
      { kind: 'user', id: USER },
      { kind: 'org', id: ORG_A },
      { kind: 'org', id: ORG_B },
      { kind: 'installation', id: INSTALLATION },
    ]);
    expect(groupsOf(identity, '')).not.toContainEqual(expect.objectContaining({ kind: 'installation' }));
  });

  it('joins only the user without organizations', () => {
    expect(groupsOf({ ...identity, organizationIds: [] }, undefined)).toEqual([{ kind: 'user', id: USER }]);
  });

  it('puts an anonymous connection in the group of its auth request only', () => {
    const anonymous: AnonymousIdentity = { kind: 'anonymous', token: ORG_C, clientType: 0 };
    expect(groupsOf(anonymous, INSTALLATION)).toEqual([{ kind: 'anon', id: ORG_C }]);
  });

  it('derives the groups of a token end to end', () => {
    const fromToken = hubIdentityFromClaims(claims({ orguser: [ORG_B.toUpperCase()], devicetype: 9 }))!;
    expect(groupsOf(fromToken, INSTALLATION)).toEqual([
      { kind: 'user', id: USER },
      { kind: 'org', id: ORG_B },
      { kind: 'installation', id: INSTALLATION },
    ]);
  });
});
