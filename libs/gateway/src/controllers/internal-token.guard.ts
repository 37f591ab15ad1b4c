import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { type Request } from 'express';

import { assertScope, AuthError, extractAccessToken, TokenVerifier } from '@herald/auth';

/** Internal endpoints (`/send`, cluster-wide disconnect): a bearer token whose scope has `internal`. */
@Injectable()
export class InternalTokenGuard implements CanActivate {
  constructor(private readonly verifier: TokenVerifier) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    const token = extractAccessToken(request.headers, request.originalUrl);
    if (!token) {
      throw new UnauthorizedException({ error: 'unauthorized', message: 'a bearer token is required' });
    }
    try {
      assertScope(await this.verifier.verify(token), 'internal');
      return true;
    } catch (error) {
      if (error instanceof AuthError) {
        const body = { error: error.reason, message: error.message };
        throw error.status === 403 ? new ForbiddenException(body) : new UnauthorizedException(body);
      }
      throw error;
    }
  }
}
