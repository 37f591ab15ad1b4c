import { jwtVerify, type JWTPayload } from 'jose';
import { AuthError } from './auth.error';
import { normalizeClaims, type VerifiedClaims } from './claims';
import { createKeySource, type KeySource, type KeySourceOptions } from './key-source';
import { assertTokenHeader } from './token-header';
import { VerificationCache } from './verification-cache';

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
    assertTokenHeader(candidate, this.keySource.algorithms);
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

function describeCode(code: unknown): string {
  return typeof code === 'string' ? code : 'unexpected error';
}
