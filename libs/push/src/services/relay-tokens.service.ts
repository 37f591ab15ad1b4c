import { Inject, Injectable } from '@nestjs/common';
import { SignJWT } from 'jose';

import { type Database } from '@herald/persistence';

import { PUSH_DATABASE } from '../push.tokens';

const LIFETIME_SECONDS = 24 * 3600;
/** The `iss` of relay tokens; the relay strategy accepts no other. */
export const RELAY_TOKEN_ISSUER = 'herald-push';

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

  /** The installation a verified token was issued to, or undefined when it does not grant `api.push`. */
  installationOf(payload: Record<string, unknown>): string | undefined {
    const scope = payload.scope;
    const scoped = Array.isArray(scope) && scope.includes('api.push');
    return scoped && typeof payload.client_sub === 'string' ? payload.client_sub : undefined;
  }

  private key(): Promise<Buffer> {
    return (this.secret ??= this.database.secrets.getOrCreate('relay-token-signing'));
  }
}
