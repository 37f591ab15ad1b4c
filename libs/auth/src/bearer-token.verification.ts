import { createHash, KeyObject } from 'node:crypto';

import { type Request } from 'express';
import { type CryptoKey, type JWTPayload } from 'jose';
import { type StrategyOptionsWithRequest } from 'passport-jwt';

import { extractAccessToken } from './access-token';
import { AuthError } from './auth.error';
import { normalizeClaims, type VerifiedClaims } from './claims';
import { createKeySource, type KeySource, type KeySourceOptions } from './key-source';
import { assertTokenHeader } from './token-header';
import { VerificationCache } from './verification-cache';

export interface BearerTokenOptions extends KeySourceOptions {
  /** Most verified tokens remembered at once. Default 10 000. */
  cacheSize?: number;
}

/**
 * What the bearer-token strategies share: passport-jwt's options over Herald's key sources, and
 * the cache of verified tokens. passport-jwt (jsonwebtoken) checks the signature, `exp`, `nbf`
 * and the issuer; the key provider refuses junk, foreign algorithms and unknown `kid`s first; a
 * token verified once is answered from the cache until it expires, without passport-jwt.
 */
export class BearerTokenVerification {
  private readonly cache: VerificationCache<VerifiedClaims>;
  private readonly keyObjects = new WeakMap<CryptoKey, KeyObject>();

  private constructor(
    private readonly keySource: KeySource,
    private readonly issuer: string | undefined,
    private readonly clockToleranceSeconds: number,
    cacheSize: number,
  ) {
    this.cache = new VerificationCache(cacheSize);
  }

  /** Validates the options (exactly one key source) and loads a PEM key; remote keys are fetched on first use. */
  static async create(options: BearerTokenOptions): Promise<BearerTokenVerification> {
    const tolerance = options.clockToleranceSeconds ?? 60;
    if (!Number.isFinite(tolerance) || tolerance < 0) {
      throw new Error('clockToleranceSeconds must be a non-negative number');
    }
    const cacheSize = options.cacheSize ?? 10_000;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new Error('cacheSize must be a non-negative integer');
    }
    const issuer = options.issuer?.trim() || undefined;
    return new BearerTokenVerification(await createKeySource(options), issuer, tolerance, cacheSize);
  }

  /** passport-jwt's options: the token from the request, keys from the key source, the allow-list, the issuer. */
  strategyOptions(): StrategyOptionsWithRequest {
    return {
      jwtFromRequest: (request: Request) => accessTokenOf(request) ?? null,
      secretOrKeyProvider: (_request: unknown, token: unknown, done) => {
        this.keyFor(String(token)).then(
          // jsonwebtoken takes a KeyObject as it is; passport-jwt's types only name strings and Buffers.
          (key) => done(null, key as unknown as Buffer),
          (error: unknown) => done(error),
        );
      },
      algorithms: [...this.keySource.algorithms],
      issuer: this.issuer,
      jsonWebTokenOptions: { clockTolerance: this.clockToleranceSeconds },
      passReqToCallback: true,
    };
  }

  /** The request's token, when it carries one. */
  tokenOf(request: Request): string | undefined {
    return accessTokenOf(request);
  }

  /** The claims of a token verified before and not yet expired. */
  cached(token: string): VerifiedClaims | undefined {
    return this.cache.get(cacheKey(token), Date.now());
  }

  /**
   * Takes the payload passport-jwt verified: a token without `exp` is refused (it would be valid
   * forever; neither Bitwarden nor Vaultwarden issues one); otherwise it is cached until `exp`.
   */
  accept(request: Request, payload: unknown): VerifiedClaims {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new AuthError('malformed', 'the access token payload is not a JSON object');
    }
    if ((payload as JWTPayload).exp === undefined) {
      throw new AuthError('missing-claim', 'the access token has no exp claim');
    }
    const claims = normalizeClaims(payload as JWTPayload);
    const token = accessTokenOf(request);
    if (token !== undefined) {
      this.cache.set(cacheKey(token), claims, (claims.exp ?? 0) * 1000, Date.now());
    }
    return claims;
  }

  private async keyFor(token: string): Promise<KeyObject> {
    const header = assertTokenHeader(token, this.keySource.algorithms);
    const [protectedHeader = '', payload = '', signature = ''] = token.split('.');
    const key = await this.keySource.getKey(header, {
      protected: protectedHeader,
      payload,
      signature,
    });
    let keyObject = this.keyObjects.get(key);
    if (keyObject === undefined) {
      keyObject = KeyObject.from(key);
      this.keyObjects.set(key, keyObject);
    }
    return keyObject;
  }
}

/**
 * The cache holds a digest, not the token: 43 characters instead of about a thousand, no bearer
 * token kept in memory after its connection is gone, and no request URL kept alive by a token
 * sliced out of it.
 */
function cacheKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function accessTokenOf(request: Request): string | undefined {
  return extractAccessToken(request.headers, request.originalUrl ?? request.url ?? '');
}

/**
 * Turns what a strategy failed with into an AuthError: AuthErrors as they are, jsonwebtoken's
 * errors (stable names and messages) by their meaning, anything else as malformed.
 */
export function refusalOf(failure: unknown): AuthError {
  if (failure instanceof AuthError) {
    return failure;
  }
  const { name, message } = (failure ?? {}) as { name?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (name === 'TokenExpiredError') {
    return new AuthError('expired');
  }
  if (name === 'NotBeforeError') {
    return new AuthError('not-yet-valid');
  }
  if (text === 'invalid signature') {
    return new AuthError('bad-signature');
  }
  if (text === 'invalid algorithm') {
    return new AuthError('unsupported-algorithm');
  }
  if (text.startsWith('jwt issuer invalid')) {
    return new AuthError('wrong-issuer');
  }
  if (text === 'No auth token') {
    return new AuthError('missing-token');
  }
  const detail = /^(invalid [a-z]+ value|jwt malformed|invalid token)$/.test(text)
    ? text
    : 'unexpected error';
  return new AuthError('malformed', `the access token could not be verified (${detail})`);
}
