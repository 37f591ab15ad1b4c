import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { type Request } from 'express';

import { RelayTokensService } from '../services/relay-tokens.service';

export type RelayRequest = Request & { installationId?: string };

/** The relay routes: a token from Herald's own `/connect/token`, scope `api.push`. */
@Injectable()
export class RelayTokenGuard implements CanActivate {
  constructor(private readonly tokens: RelayTokensService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<RelayRequest>();
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const installationId = token !== undefined ? await this.tokens.verify(token) : undefined;
    if (!installationId) {
      throw new UnauthorizedException({
        error: 'invalid_token',
        message: 'a valid api.push access token is required',
      });
    }
    request.installationId = installationId;
    return true;
  }
}
