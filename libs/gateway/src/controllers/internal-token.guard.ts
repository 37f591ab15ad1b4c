import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

import { guardRequest, InternalJwtStrategy } from '@herald/auth';

/**
 * Internal endpoints (`/send`, cluster-wide disconnect): a bearer token whose scope has `internal`,
 * verified by the internal strategy; its claims reach the handler as `request.user`.
 */
@Injectable()
export class InternalTokenGuard implements CanActivate {
  constructor(private readonly strategy: InternalJwtStrategy) {}

  canActivate(context: ExecutionContext): Promise<boolean> {
    return guardRequest(this.strategy, context);
  }
}
