import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { type Request } from 'express';
import { Strategy } from 'passport-jwt';

import { RELAY_TOKEN_ISSUER, RelayTokensService } from '../services/relay-tokens.service';

/** Who called a relay route: the installation its token was issued to. */
export interface RelayCaller {
  installationId: string;
}

const bearerPattern = /^Bearer\s+(\S+)$/i;

/**
 * The relay routes' tokens, which Herald's own `/connect/token` issues: HS256 with the secret the
 * relay token service keeps in the database, issuer `herald-push`, scope `api.push`; from the
 * `Authorization: Bearer` header only, as Bitwarden's relay clients send them.
 */
@Injectable()
export class RelayStrategy extends PassportStrategy(Strategy, 'herald-relay') {
  constructor(private readonly tokens: RelayTokensService) {
    super({
      jwtFromRequest: (request: Request) =>
        bearerPattern.exec(request.headers.authorization ?? '')?.[1] ?? null,
      secretOrKeyProvider: (_request: unknown, _token: unknown, done) => {
        tokens.signingKey().then(
          (key) => done(null, key),
          (error: unknown) => done(error),
        );
      },
      algorithms: ['HS256'],
      issuer: RELAY_TOKEN_ISSUER,
    });
  }

  /** False (a refusal) when the token does not grant `api.push` to an installation that is enabled. */
  async validate(payload: Record<string, unknown>): Promise<RelayCaller | false> {
    const installationId = await this.tokens.installationOf(payload);
    return installationId === undefined ? false : { installationId };
  }
}
