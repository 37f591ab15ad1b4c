import { PassportStrategy } from '@nestjs/passport';
import { type Request } from 'express';
import { Strategy } from 'passport-jwt';

import { BearerTokenVerification, type BearerTokenOptions } from './bearer-token.verification';
import { type VerifiedClaims } from './claims';
import { assertHubPolicy } from './policy';
import { authenticateCached } from './strategy-authentication';

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
    authenticateCached(this, this.verification, request, admitUser, () =>
      super.authenticate(request, options),
    );
  }

  validate(request: Request, payload: unknown): UserIdentity {
    return admitUser(this.verification.accept(request, payload));
  }
}

function admitUser(claims: VerifiedClaims): UserIdentity {
  assertHubPolicy(claims);
  return claims as UserIdentity;
}
