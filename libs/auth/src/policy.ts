import { AuthError } from './auth.error';
import { type VerifiedClaims } from './claims';

/** amr values Bitwarden's "Application" policy accepts on /hub. */
const hubAuthenticationMethods = ['Application', 'external'];

/**
 * Bitwarden's /hub policy: scope `api`, amr `Application` or `external`, and a user id. A missing
 * `sub` is 401 (the token names nobody); a missing scope or amr is 403, as ASP.NET answers a
 * failed authorization policy.
 */
export function assertHubPolicy(claims: VerifiedClaims): void {
  if (claims.sub === undefined) {
    throw new AuthError('missing-claim', 'the access token has no sub claim');
  }
  assertScope(claims, 'api');
  if (!claims.amr.some((method) => hubAuthenticationMethods.includes(method))) {
    throw new AuthError(
      'insufficient-scope',
      'the access token amr contains neither Application nor external',
    );
  }
}

/** The token must grant `scope` (e.g. `internal` for /send); otherwise 403 insufficient-scope. */
export function assertScope(claims: VerifiedClaims, scope: string): void {
  if (!claims.scope.includes(scope)) {
    throw new AuthError('insufficient-scope', `the access token does not grant the ${scope} scope`);
  }
}
