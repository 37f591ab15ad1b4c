import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { type Request } from 'express';

import { guardRequest, type JwtStrategy, type UserIdentity } from '@herald/auth';
import { isGuid } from '@herald/contracts';

import { USER_JWT_STRATEGY } from '../push.tokens';

/**
 * A signed-in user's own routes: a token that passes Bitwarden's hub policy and names its user by
 * GUID (the device registry's key). `404` when the push worker has no token source configured.
 */
@Injectable()
export class UserTokenGuard implements CanActivate {
  constructor(@Inject(USER_JWT_STRATEGY) private readonly strategy: JwtStrategy | null) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.strategy)
      throw new NotFoundException({ error: 'not_found', message: 'no token source is configured' });
    await guardRequest(this.strategy, context);
    const user = context.switchToHttp().getRequest<Request>().user as UserIdentity;
    if (!isGuid(user.sub))
      throw new UnauthorizedException({
        error: 'missing-claim',
        message: 'the access token lacks a required claim',
      });
    return true;
  }
}
