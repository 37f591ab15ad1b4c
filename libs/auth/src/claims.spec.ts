import { describe, expect, it } from '@jest/globals';
import { normalizeClaims, toStringList } from './claims';

describe('toStringList', () => {
  it('accepts arrays, single strings and space-separated strings', () => {
    expect(toStringList(['api', 'offline_access'])).toEqual(['api', 'offline_access']);
    expect(toStringList('api')).toEqual(['api']);
    expect(toStringList(' api  offline_access ')).toEqual(['api', 'offline_access']);
  });

  it('drops what is not a string and treats absence as empty', () => {
    expect(toStringList(undefined)).toEqual([]);
    expect(toStringList(null)).toEqual([]);
    expect(toStringList(42)).toEqual([]);
    expect(toStringList(['api', 7, null, ''])).toEqual(['api']);
  });

  it('lowercases GUIDs only', () => {
    expect(toStringList(['6A1D9C2B-0C8E-4D55-9F3E-B0A100000001', 'Application'])).toEqual([
      '6a1d9c2b-0c8e-4d55-9f3e-b0a100000001',
      'Application',
    ]);
  });
});

describe('normalizeClaims', () => {
  it('normalises a Bitwarden payload', () => {
    const claims = normalizeClaims({
      sub: '4C6B3F0E-94AB-4D7B-8E51-AB1200C0FFEE',
      iss: 'http://localhost/identity',
      exp: 2000,
      nbf: 1000,
      scope: ['api', 'offline_access'],
      amr: 'Application',
      device: 'ABCDEF01-2345-6789-ABCD-EF0123456789',
      devicetype: 'ChromeExtension',
      orgowner: ['6A1D9C2B-0C8E-4D55-9F3E-B0A100000001'],
      orgadmin: 'd3b07384-d9a0-4c1f-8e2a-b0a100000002',
      orguser: 'a b',
    });
    expect(claims).toEqual({
      sub: '4c6b3f0e-94ab-4d7b-8e51-ab1200c0ffee',
      iss: 'http://localhost/identity',
      exp: 2000,
      nbf: 1000,
      scope: ['api', 'offline_access'],
      amr: ['Application'],
      device: 'abcdef01-2345-6789-abcd-ef0123456789',
      devicetype: 'ChromeExtension',
      orgowner: ['6a1d9c2b-0c8e-4d55-9f3e-b0a100000001'],
      orgadmin: ['d3b07384-d9a0-4c1f-8e2a-b0a100000002'],
      orguser: ['a', 'b'],
      orgcustom: [],
    });
  });

  it('keeps devicetype as a number or a numeric string, for the caller to map', () => {
    expect(normalizeClaims({ devicetype: 9 }).devicetype).toBe(9);
    expect(normalizeClaims({ devicetype: '9' }).devicetype).toBe('9');
    expect(normalizeClaims({ devicetype: true }).devicetype).toBeUndefined();
  });

  it('ignores non-string identifiers', () => {
    const claims = normalizeClaims({ sub: 12, device: '  ', iss: 5 } as never);
    expect(claims.sub).toBeUndefined();
    expect(claims.device).toBeUndefined();
    expect(claims.iss).toBeUndefined();
  });

  it('returns a frozen result, safe to share from the cache', () => {
    const claims = normalizeClaims({ scope: ['api'], nested: { a: 1 } });
    expect(Object.isFrozen(claims)).toBe(true);
    expect(Object.isFrozen(claims.scope)).toBe(true);
    expect(Object.isFrozen(claims.orgowner)).toBe(true);
    // Only the claims Herald reads are kept: a cached token holds nothing else.
    expect(Object.keys(claims)).not.toContain('nested');
  });
});
