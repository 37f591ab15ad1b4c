import { PassportStrategy } from '@nestjs/passport';
import { type Request } from 'express';
import { Strategy } from 'passport-jwt';

import { AuthError } from './auth.error';
import { BearerTokenVerification, type BearerTokenOptions } from './bearer-token.verification';
import { type VerifiedClaims } from './claims';
import { assertHubPolicy } from './policy';
import { settleFromCache } from './strategy-authentication';

/** A signed-in user: verified claims that passed Bitwarden's policy, so `sub` is present. */
export type UserIdentity = VerifiedClaims & { sub: string };

/**
 * Users' access tokens (PROTOCOL.md §5) through passport-jwt: `Authorization: Bearer` or the
 * `access_token` query parameter, RS256 or ES256 from the configured key source, the issuer when
 * configured; `validate` applies Bitwarden's policy (scope `api`, amr `Application` or
 * `external`) and returns the identity.
 */
export class JwtStrategy extends PassportStrategy(Strategy, 'herald-jwt') {
  constructor(private readonly verification: BearerTokenVerification) {
    super(verification.strategyOptions());
  }

  static async create(options: BearerTokenOptions): Promise<JwtStrategy> {
    return new JwtStrategy(await BearerTokenVerification.create(options));
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
      settleFromCache(this, () => admitUser(cached));
    }
  }

  validate(request: Request, payload: unknown): UserIdentity {
    return admitUser(this.verification.accept(request, payload));
  }
}

function admitUser(claims: VerifiedClaims): UserIdentity {
  assertHubPolicy(claims);
  return claims as UserIdentity;
}
