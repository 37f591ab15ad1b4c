import { Inject, Injectable } from '@nestjs/common';
import { jwtVerify, SignJWT } from 'jose';

import { type Database } from '@herald/persistence';

import { PUSH_DATABASE } from '../push.tokens';

const LIFETIME_SECONDS = 24 * 3600;
const ISSUER = 'herald-push';

/**
 * Access tokens for installations calling Herald as their push relay (what Bitwarden's identity
 * server issues for `client_credentials` with scope `api.push`). HS256 with a secret kept in the
 * database, so every push-worker replica accepts every other's tokens.
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
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${LIFETIME_SECONDS}s`)
      .sign(await this.key());
    return { token, expiresIn: LIFETIME_SECONDS };
  }

  /** The installation id the token was issued to, or undefined for any invalid token. */
  async verify(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, await this.key(), { issuer: ISSUER, algorithms: ['HS256'] });
      const scope = payload.scope;
      const scoped = Array.isArray(scope) && scope.includes('api.push');
      return scoped && typeof payload.client_sub === 'string' ? payload.client_sub : undefined;
    } catch {
      return undefined;
    }
  }

  private key(): Promise<Buffer> {
    return (this.secret ??= this.database.secrets.getOrCreate('relay-token-signing'));
  }
}
