import { Body, Controller, HttpCode, HttpException, Inject, Optional, Post, Req } from '@nestjs/common';
import { type Request } from 'express';

import { isGuid } from '@herald/contracts';
import { type Database } from '@herald/persistence';
import { ClientAddressResolver, InjectLogger, type Logger } from '@herald/platform';

import { type PushConfig } from '../config/push.config';
import { PUSH_CLOCK, PUSH_CONFIG, PUSH_DATABASE } from '../push.tokens';
import { RelayTokensService } from '../services/relay-tokens.service';
import { FailureLimiter } from '../services/failure-limiter';

const CLIENT_PREFIX = 'installation.';

/**
 * `POST /connect/token` as Bitwarden's identity server answers it for push relay clients:
 * `client_credentials`, `client_id=installation.<id>`, `client_secret=<key>`, scope `api.push`.
 */
@Controller()
export class IdentityController {
  /**
   * Ten refused attempts a minute per client address and installation: a guesser blocks only
   * itself, not every installation behind the same proxy, and not the installation it aims at
   * from elsewhere.
   */
  private readonly failures: FailureLimiter;
  private readonly addresses: ClientAddressResolver;

  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    private readonly tokens: RelayTokensService,
    @Inject(PUSH_CONFIG) config: PushConfig,
    @InjectLogger('IdentityController') private readonly logger: Logger,
    @Optional() @Inject(PUSH_CLOCK) now: () => number = Date.now,
  ) {
    this.failures = new FailureLimiter(10, 60_000, now);
    this.addresses = new ClientAddressResolver(config.HERALD_TRUSTED_PROXIES);
  }

  @Post(['connect/token', 'identity/connect/token'])
  @HttpCode(200)
  async token(@Req() request: Request, @Body() body: unknown): Promise<Record<string, unknown>> {
    const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const address = this.addresses.resolve(request.socket.remoteAddress, request.headers['x-forwarded-for']);
    const clientId = typeof form.client_id === 'string' ? form.client_id : '';
    const claimed = clientId.startsWith(CLIENT_PREFIX) ? clientId.slice(CLIENT_PREFIX.length) : '';
    const installationId = isGuid(claimed) ? claimed.toLowerCase() : undefined;
    // Reserved before anything is checked (the key's hash takes a while): concurrent guesses
    // count as they arrive. Given back below when the credentials are good.
    const attempt = `${address} ${installationId ?? '-'}`;
    if (!this.failures.reserve(attempt)) {
      throw new HttpException(
        { error: 'too_many_requests', error_description: 'too many failed attempts; retry later' },
        429,
      );
    }
    const refuse = (error: string, description: string) =>
      new HttpException({ error, error_description: description }, 400);
    if (form.grant_type !== 'client_credentials')
      throw refuse('unsupported_grant_type', 'grant_type must be client_credentials');
    const scopes = typeof form.scope === 'string' ? form.scope.split(' ') : [];
    if (!scopes.includes('api.push')) throw refuse('invalid_scope', 'scope must include api.push');
    const secret = typeof form.client_secret === 'string' ? form.client_secret : '';
    const installation =
      installationId && secret ? await this.verify(attempt, installationId, secret) : undefined;
    if (!installation) {
      this.logger.info({ installationId, address }, 'installation credentials refused');
      throw refuse('invalid_client', 'unknown installation, wrong key, or installation disabled');
    }
    this.failures.release(attempt);
    const { token, expiresIn } = await this.tokens.issue(installation.id);
    return { access_token: token, expires_in: expiresIn, token_type: 'Bearer', scope: 'api.push' };
  }

  /** The database failing is not the client's failure: its attempt is given back. */
  private async verify(attempt: string, installationId: string, secret: string) {
    try {
      return await this.database.installations.verify(installationId, secret);
    } catch (error) {
      this.failures.release(attempt);
      throw error;
    }
  }
}
