import { Inject, Injectable } from '@nestjs/common';
import { SignJWT } from 'jose';

import { isGuid } from '@herald/contracts';
import { type Database } from '@herald/persistence';

import { PUSH_DATABASE } from '../push.tokens';

const LIFETIME_SECONDS = 24 * 3600;
const SIGNING_SECRET_NAME = 'relay-token-signing';
/** The `iss` of relay tokens; the relay strategy accepts no other. */
export const RELAY_TOKEN_ISSUER = 'herald-push';

/**
 * Access tokens for installations calling Herald as their push relay (what Bitwarden's identity
 * server issues for `client_credentials` with scope `api.push`). HS256 with a secret kept in the
 * database, so every push-worker replica accepts every other's tokens. A token is only as good as
 * its installation: it is refused as soon as the installation is disabled (or gone), however long
 * it still has to live.
 */
@Injectable()
export class RelayTokensService {
  private secret: Promise<Buffer> | undefined;

  constructor(@Inject(PUSH_DATABASE) private readonly database: Database) {}

  async issue(installationId: string): Promise<{ token: string; expiresIn: number }> {
    const token = await new SignJWT({
      client_sub: installationId,
      client_id: `installation.${installationId}`,
      scope: ['api.push'],
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(RELAY_TOKEN_ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${LIFETIME_SECONDS}s`)
      .sign(await this.key());
    return { token, expiresIn: LIFETIME_SECONDS };
  }

  /** The HS256 secret the relay strategy verifies tokens with. */
  signingKey(): Promise<Buffer> {
    return this.key();
  }

  /**
   * The installation a verified token was issued to, or undefined when the token does not grant
   * `api.push` or the installation is no longer enabled. The installation's state is read on every
   * call (one primary-key read), so disabling it takes effect at once on every replica.
   */
  async installationOf(payload: Record<string, unknown>): Promise<string | undefined> {
    const scope = payload.scope;
    const installationId = payload.client_sub;
    if (!Array.isArray(scope) || !scope.includes('api.push') || !isGuid(installationId)) return undefined;
    const installation = await this.database.installations.findById(installationId);
    return installation?.enabled ? installation.id : undefined;
  }

  /**
   * The signing secret, loaded once. A load that failed is forgotten, so the next use tries again:
   * a cached rejection would refuse every token until the process restarts.
   */
  private key(): Promise<Buffer> {
    if (this.secret === undefined) {
      const loading = this.database.secrets.getOrCreate(SIGNING_SECRET_NAME);
      this.secret = loading;
      loading.catch(() => {
        if (this.secret === loading) this.secret = undefined;
      });
    }
    return this.secret;
  }
}
