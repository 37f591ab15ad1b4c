import { decodeProtectedHeader, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { AuthError } from './auth.error';
import { normalizeClaims, type VerifiedClaims } from './claims';
import { createKeySource, type KeySource, type KeySourceOptions } from './key-source';
import { VerificationCache } from './verification-cache';

/** Header `typ` values seen in the wild: IdentityServer writes at+jwt, Vaultwarden writes JWT. */
const acceptedTypes = new Set(['jwt', 'at+jwt']);

/** Far above any real access token, even one listing hundreds of organizations; keeps the cache bounded in bytes. */
const maxTokenLength = 32 * 1024;

/**
 * Verifies Bitwarden access tokens: signature (RS256 or ES256 only), `exp` (required) and `nbf`
 * with clock tolerance, the optional issuer and the header type. Successful results are cached
 * per token until the token expires. Every refusal is an AuthError; the token never appears in
 * an error message.
 */
export class TokenVerifier {
  private readonly cache = new VerificationCache<VerifiedClaims>();

  private constructor(
    private readonly keySource: KeySource,
    private readonly issuer: string | undefined,
    private readonly clockToleranceSeconds: number,
  ) {}

  /** Validates the options (exactly one key source) and loads a PEM key; remote keys are fetched on first use. */
  static async create(options: KeySourceOptions): Promise<TokenVerifier> {
    const tolerance = options.clockToleranceSeconds ?? 60;
    if (!Number.isFinite(tolerance) || tolerance < 0) {
      throw new Error('clockToleranceSeconds must be a non-negative number');
    }
    const issuer = options.issuer?.trim() || undefined;
    return new TokenVerifier(await createKeySource(options), issuer, tolerance);
  }

  async verify(token: string): Promise<VerifiedClaims> {
    const candidate = typeof token === 'string' ? token.trim() : '';
    if (candidate === '') {
      throw new AuthError('missing-token');
    }
    const cached = this.cache.get(candidate, Date.now());
    if (cached !== undefined) {
      return cached;
    }
    this.checkHeader(candidate);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(candidate, this.keySource.getKey, {
        algorithms: [...this.keySource.algorithms],
        issuer: this.issuer,
        clockTolerance: this.clockToleranceSeconds,
        // A token without exp would be valid forever; neither Bitwarden nor Vaultwarden issues one.
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      throw verificationFailure(error);
    }
    const claims = normalizeClaims(payload);
    this.cache.set(candidate, claims, (claims.exp ?? 0) * 1000, Date.now());
    return claims;
  }

  /** Cheap refusals before any key lookup, so junk tokens never trigger a JWKS fetch. */
  private checkHeader(token: string): void {
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
    if (typeof alg !== 'string' || !this.keySource.algorithms.some((accepted) => accepted === alg)) {
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
  }
}

/** Maps jose's error codes (stable API) to reasons; anything unrecognised counts as malformed. */
function verificationFailure(error: unknown): AuthError {
  if (error instanceof AuthError) {
    return error;
  }
  const { code, claim, reason } = (error ?? {}) as { code?: unknown; claim?: unknown; reason?: unknown };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new AuthError('expired');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new AuthError('bad-signature');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new AuthError('unsupported-algorithm');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'iss') {
        return new AuthError('wrong-issuer');
      }
      if (reason === 'missing') {
        return new AuthError('missing-claim', `the access token has no ${String(claim)} claim`);
      }
      if (claim === 'nbf' && reason === 'check_failed') {
        return new AuthError('not-yet-valid');
      }
      return new AuthError('malformed', `the access token has an invalid ${String(claim)} claim`);
    default:
      return new AuthError('malformed', `the access token could not be verified (${describeCode(code)})`);
  }
}

function isBase64Url(part: string, mayBeEmpty: boolean): boolean {
  return (mayBeEmpty && part === '') || /^[A-Za-z0-9_-]+$/.test(part);
}

function describeCode(code: unknown): string {
  return typeof code === 'string' ? code : 'unexpected error';
}
