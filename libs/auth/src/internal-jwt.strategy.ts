import { PassportStrategy } from '@nestjs/passport';
import { type Request } from 'express';
import { Strategy } from 'passport-jwt';

import { AuthError } from './auth.error';
import { BearerTokenVerification, type BearerTokenOptions } from './bearer-token.verification';
import { type VerifiedClaims } from './claims';
import { assertScope } from './policy';
import { settleFromCache } from './strategy-authentication';

/**
 * Tokens of Herald's internal callers (the vault API's `internal.Api` client on `/send`, cluster
 * control): verified as users' tokens are, but `validate` requires scope `internal` (else 403).
 */
export class InternalJwtStrategy extends PassportStrategy(Strategy, 'herald-internal') {
  constructor(private readonly verification: BearerTokenVerification) {
    super(verification.strategyOptions());
  }

  static async create(options: BearerTokenOptions): Promise<InternalJwtStrategy> {
    return new InternalJwtStrategy(await BearerTokenVerification.create(options));
  }

  /** A token verified before is answered from the cache; any other goes through passport-jwt. */
  override authenticate(request: Request, options?: unknown): void {
    const token = this.verification.tokenOf(request);
    const cached = token === undefined ? undefined : this.verification.cached(token);
    if (token === undefined) {
      this.fail(new AuthError('missing-token'), 401);
    } else if (cached === undefined) {
      super.authenticate(request, options);
    } else {
      settleFromCache(this, () => admitInternal(cached));
    }
  }

  validate(request: Request, payload: unknown): VerifiedClaims {
    return admitInternal(this.verification.accept(request, payload));
  }
}

function admitInternal(claims: VerifiedClaims): VerifiedClaims {
  assertScope(claims, 'internal');
  return claims;
}
