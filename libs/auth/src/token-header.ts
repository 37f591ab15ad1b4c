import { decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';

import { AuthError } from './auth.error';

/** Header `typ` values seen in the wild: IdentityServer writes at+jwt, Vaultwarden writes JWT. */
const acceptedTypes = new Set(['jwt', 'at+jwt']);

/** Far above any real access token, even one listing hundreds of organizations; keeps the cache bounded in bytes. */
const maxTokenLength = 32 * 1024;

/**
 * Cheap refusals before any key lookup, so junk tokens never trigger a JWKS fetch: the compact
 * shape, the size, an algorithm from `algorithms` and a `typ` of JWT or at+jwt. Returns the header.
 */
export function assertTokenHeader(
  token: string,
  algorithms: readonly string[],
): ProtectedHeaderParameters & { alg: string } {
  const parts = token.split('.');
  // The signature may be empty here: alg none is refused below with a clearer reason.
  if (
    token.length > maxTokenLength ||
    parts.length !== 3 ||
    !parts.every((part, index) => isBase64Url(part, index === 2))
  ) {
    throw new AuthError('malformed');
  }
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new AuthError('malformed');
  }
  const { alg, typ } = header;
  if (typeof alg !== 'string' || !algorithms.includes(alg)) {
    const shown = typeof alg === 'string' ? JSON.stringify(alg.slice(0, 16)) : 'no algorithm';
    throw new AuthError('unsupported-algorithm', `access tokens signed with ${shown} are not accepted`);
  }
  if (
    typ !== undefined &&
    !acceptedTypes.has(
      String(typ)
        .toLowerCase()
        .replace(/^application\//, ''),
    )
  ) {
    throw new AuthError('bad-type', 'the access token header typ is neither JWT nor at+jwt');
  }
  return { ...header, alg };
}

function isBase64Url(part: string, mayBeEmpty: boolean): boolean {
  return (mayBeEmpty && part === '') || /^[A-Za-z0-9_-]+$/.test(part);
}
