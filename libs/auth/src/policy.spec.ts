import { describe, expect, it } from '@jest/globals';
import { AuthError } from './auth.error';
import { normalizeClaims } from './claims';
import { assertHubPolicy, assertScope } from './policy';

function refusal(check: () => void): AuthError {
  try {
    check();
  } catch (error) {
    if (error instanceof AuthError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected an AuthError');
}

const hubClaims = { sub: 'user', scope: ['api', 'offline_access'], amr: ['Application'] };

describe('assertHubPolicy', () => {
  it('accepts api scope with amr Application or external', () => {
    expect(() => assertHubPolicy(normalizeClaims(hubClaims))).not.toThrow();
    expect(() => assertHubPolicy(normalizeClaims({ ...hubClaims, amr: 'external' }))).not.toThrow();
  });

  it('refuses a token without api scope with 403', () => {
    const error = refusal(() =>
      assertHubPolicy(normalizeClaims({ ...hubClaims, scope: ['offline_access'] })),
    );
    expect(error).toMatchObject({ reason: 'insufficient-scope', status: 403 });
  });

  it('refuses a token whose amr is neither Application nor external with 403', () => {
    const error = refusal(() => assertHubPolicy(normalizeClaims({ ...hubClaims, amr: ['pwd'] })));
    expect(error).toMatchObject({ reason: 'insufficient-scope', status: 403 });
    expect(refusal(() => assertHubPolicy(normalizeClaims({ ...hubClaims, amr: undefined }))).reason).toBe(
      'insufficient-scope',
    );
  });

  it('refuses a token without sub with 401', () => {
    const error = refusal(() => assertHubPolicy(normalizeClaims({ ...hubClaims, sub: undefined })));
    expect(error).toMatchObject({ reason: 'missing-claim', status: 401 });
  });

  it('compares scope and amr case-sensitively, as Bitwarden does', () => {
    expect(refusal(() => assertHubPolicy(normalizeClaims({ ...hubClaims, scope: 'API' }))).reason).toBe(
      'insufficient-scope',
    );
    expect(refusal(() => assertHubPolicy(normalizeClaims({ ...hubClaims, amr: 'application' }))).reason).toBe(
      'insufficient-scope',
    );
  });
});

describe('assertScope', () => {
  it('accepts a token granting the scope, in any list form', () => {
    expect(() => assertScope(normalizeClaims({ scope: 'internal' }), 'internal')).not.toThrow();
    expect(() => assertScope(normalizeClaims({ scope: 'api internal' }), 'internal')).not.toThrow();
    expect(() => assertScope(normalizeClaims({ scope: ['internal'] }), 'internal')).not.toThrow();
  });

  it('refuses an authenticated token without the scope with 403', () => {
    const error = refusal(() => assertScope(normalizeClaims(hubClaims), 'internal'));
    expect(error).toMatchObject({ reason: 'insufficient-scope', status: 403 });
    expect(error.message).toContain('internal');
  });
});
