import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { type Request } from 'express';

import { authenticateRequest, AuthError } from '@herald/auth';

import { type RelayCaller, RelayStrategy } from './relay.strategy';

/** The relay routes: a token from Herald's own `/connect/token`; the caller reaches handlers as `request.user`. */
@Injectable()
export class RelayTokenGuard implements CanActivate {
  constructor(private readonly strategy: RelayStrategy) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    try {
      request.user = await authenticateRequest<RelayCaller>(this.strategy, request);
      return true;
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      // One answer for every refusal: which check failed is nothing a relay client acts on.
      throw new UnauthorizedException({
        error: 'invalid_token',
        message: 'a valid api.push access token is required',
      });
    }
  }
}
