import { Body, Controller, HttpCode, HttpException, Inject, Optional, Post, Req } from '@nestjs/common';
import { type Request } from 'express';

import { isGuid } from '@herald/contracts';
import { type Database } from '@herald/persistence';
import { InjectLogger, type Logger } from '@herald/platform';

import { PUSH_CLOCK, PUSH_DATABASE } from '../push.tokens';
import { RelayTokensService } from '../services/relay-tokens.service';
import { FailureLimiter } from '../services/failure-limiter';

/**
 * `POST /connect/token` as Bitwarden's identity server answers it for push relay clients:
 * `client_credentials`, `client_id=installation.<id>`, `client_secret=<key>`, scope `api.push`.
 */
@Controller()
export class IdentityController {
  /** Ten refusals a minute per client address. */
  private readonly failures: FailureLimiter;

  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    private readonly tokens: RelayTokensService,
    @InjectLogger('IdentityController') private readonly logger: Logger,
    @Optional() @Inject(PUSH_CLOCK) now: () => number = Date.now,
  ) {
    this.failures = new FailureLimiter(10, 60_000, now);
  }

  @Post(['connect/token', 'identity/connect/token'])
  @HttpCode(200)
  async token(@Req() request: Request, @Body() body: unknown): Promise<Record<string, unknown>> {
    const address = request.socket.remoteAddress ?? 'unknown';
    if (this.failures.blocked(address)) {
      throw new HttpException(
        { error: 'too_many_requests', error_description: 'too many failed attempts; retry later' },
        429,
      );
    }
    const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const fail = (error: string, description: string) => {
      this.failures.record(address);
      return new HttpException({ error, error_description: description }, 400);
    };
    if (form.grant_type !== 'client_credentials')
      throw fail('unsupported_grant_type', 'grant_type must be client_credentials');
    const scopes = typeof form.scope === 'string' ? form.scope.split(' ') : [];
    if (!scopes.includes('api.push')) throw fail('invalid_scope', 'scope must include api.push');
    const clientId = typeof form.client_id === 'string' ? form.client_id : '';
    const installationId = clientId.startsWith('installation.') ? clientId.slice('installation.'.length) : '';
    const secret = typeof form.client_secret === 'string' ? form.client_secret : '';
    const installation =
      isGuid(installationId) && secret
        ? await this.database.installations.verify(installationId.toLowerCase(), secret)
        : undefined;
    if (!installation) {
      this.logger.info(
        { installationId: isGuid(installationId) ? installationId : undefined, address },
        'installation credentials refused',
      );
      throw fail('invalid_client', 'unknown installation, wrong key, or installation disabled');
    }
    const { token, expiresIn } = await this.tokens.issue(installation.id);
    return { access_token: token, expires_in: expiresIn, token_type: 'Bearer', scope: 'api.push' };
  }
}
