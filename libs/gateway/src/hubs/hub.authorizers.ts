import { type IncomingMessage } from 'node:http';

import { Inject, Injectable } from '@nestjs/common';

import { authenticateRequest, AuthError, JwtStrategy, type UserIdentity } from '@herald/auth';
import { isGuid } from '@herald/contracts';
import { type AuthorizeResult, type UpgradeAuthorizer } from '@herald/signalr';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { type AnonymousIdentity, type HubIdentity, hubIdentityFromClaims } from '../services/hub-identity';
import { HubAdmission } from './hub-admission';

/** `/hub`: a Bitwarden client token (header or `access_token`), then the per-IP and per-user limits. */
@Injectable()
export class UserHubAuthorizer implements UpgradeAuthorizer<HubIdentity> {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly strategy: JwtStrategy,
    private readonly admission: HubAdmission,
  ) {}

  async authorize(request: IncomingMessage): Promise<AuthorizeResult<HubIdentity>> {
    let identity: HubIdentity | undefined;
    try {
      // The same passport-jwt strategy as the HTTP routes, run against the upgrade request
      // (header or `access_token`); a token verified before is answered from its cache.
      identity = hubIdentityFromClaims(await authenticateRequest<UserIdentity>(this.strategy, request));
    } catch (error) {
      if (error instanceof AuthError) {
        const reason = error.reason === 'missing-token' ? 'missing access token' : error.reason;
        return { accept: false, status: 401, reason };
      }
      throw error;
    }
    if (!identity) {
      return { accept: false, status: 401, reason: 'token subject is not a user id' };
    }
    const address = this.admission.addressKey(request);
    return this.admission.admit(
      identity,
      [
        { key: `ip:${address}`, max: this.config.HERALD_CONNECTIONS_PER_IP },
        { key: `user:${identity.userId}`, max: this.config.HERALD_CONNECTIONS_PER_USER },
      ],
      address,
    );
  }
}

/** `/anonymous-hub`: no token, a `Token` query parameter holding an auth-request id, per-IP limits. */
@Injectable()
export class AnonymousHubAuthorizer implements UpgradeAuthorizer<AnonymousIdentity> {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly admission: HubAdmission,
  ) {}

  authorize(request: IncomingMessage, url: URL): Promise<AuthorizeResult<AnonymousIdentity>> {
    // Real clients send `Token`; any letter case is accepted.
    const entry = [...url.searchParams].find(([key]) => key.toLowerCase() === 'token');
    if (!entry || !isGuid(entry[1])) {
      return Promise.resolve({
        accept: false,
        status: 400,
        reason: 'Token must be an auth request id (GUID)',
      });
    }
    const address = this.admission.addressKey(request);
    return Promise.resolve(
      this.admission.admit(
        { kind: 'anonymous', token: entry[1].toLowerCase(), clientType: 0 },
        [
          { key: `ip:${address}`, max: this.config.HERALD_CONNECTIONS_PER_IP },
          { key: `anonymous-ip:${address}`, max: this.config.HERALD_ANONYMOUS_CONNECTIONS_PER_IP },
        ],
        address,
      ),
    );
  }
}
