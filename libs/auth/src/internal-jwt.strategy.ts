import { PassportStrategy } from '@nestjs/passport';
import { type Request } from 'express';
import { Strategy } from 'passport-jwt';

import { BearerTokenVerification, type BearerTokenOptions } from './bearer-token.verification';
import { type VerifiedClaims } from './claims';
import { assertScope } from './policy';
import { authenticateCached } from './strategy-authentication';

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
    authenticateCached(this, this.verification, request, admitInternal, () =>
      super.authenticate(request, options),
    );
  }

  validate(request: Request, payload: unknown): VerifiedClaims {
    return admitInternal(this.verification.accept(request, payload));
  }
}

function admitInternal(claims: VerifiedClaims): VerifiedClaims {
  assertScope(claims, 'internal');
  return claims;
}
