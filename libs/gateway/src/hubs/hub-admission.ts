import { type IncomingMessage } from 'node:http';

import { Inject, Injectable } from '@nestjs/common';

import { ClientAddressResolver } from '@herald/platform';
import { type AuthorizeResult } from '@herald/signalr';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { ConnectionLimits, type Limit } from '../services/connection-limits';
import { type ConnectionIdentity } from '../services/hub-identity';

/**
 * The connection limits both hubs share (per IP, per user, anonymous per IP): a place is reserved
 * when an upgrade is authorized and released when its connection is gone or never came to be.
 */
@Injectable()
export class HubAdmission {
  private readonly limits = new ConnectionLimits();
  private readonly addresses: ClientAddressResolver;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.addresses = new ClientAddressResolver(config.HERALD_TRUSTED_PROXIES);
  }

  /** Reserves a place under every limit, or refuses with 429 naming the limit that is full. */
  admit<T extends ConnectionIdentity>(identity: T, limits: Limit[]): AuthorizeResult<T> {
    const admission = this.limits.tryAcquire(limits);
    if ('full' in admission) {
      return {
        accept: false,
        status: 429,
        reason: `connection limit reached (${admission.full.key.split(':')[0]})`,
      };
    }
    return { accept: true, identity, release: admission.release };
  }

  clientAddress(request: IncomingMessage): string {
    return this.addresses.resolve(request.socket.remoteAddress, request.headers['x-forwarded-for']);
  }
}
