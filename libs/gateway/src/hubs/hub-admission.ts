import { type IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

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

  /**
   * Reserves a place under every limit, or refuses with 429 naming the limit that is full.
   * `client` (the address key) is also what pending negotiations are capped by.
   */
  admit<T extends ConnectionIdentity>(identity: T, limits: Limit[], client: string): AuthorizeResult<T> {
    const admission = this.limits.tryAcquire(limits);
    if ('full' in admission) {
      return {
        accept: false,
        status: 429,
        reason: `connection limit reached (${admission.full.key.split(':')[0]})`,
      };
    }
    return { accept: true, identity, release: admission.release, client };
  }

  /** What the per-address limits count the upgrade's client by (see `addressLimitKey`). */
  addressKey(request: IncomingMessage): string {
    return addressLimitKey(
      this.addresses.resolve(request.socket.remoteAddress, request.headers['x-forwarded-for']),
    );
  }
}

/**
 * The key a client address is counted under by the per-address limits: an IPv4 address itself;
 * for IPv6 its /64 (`2001:db8:0:1::/64`), the smallest network a host is given, in which it can
 * pick a fresh address for every connection. Anything else is left as it is.
 */
export function addressLimitKey(address: string): string {
  const unzoned = address.split('%')[0] ?? address;
  if (isIP(unzoned) !== 6) return address;
  const [head = '', tail = ''] = unzoned.split('::');
  const groups = (part: string): string[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => (group.includes('.') ? fromDotted(group) : [group]));
  const front = groups(head);
  const back = unzoned.includes('::') ? groups(tail) : [];
  const all = [...front, ...new Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${all
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/** An embedded IPv4 tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) as two hexadecimal groups. */
function fromDotted(quad: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = quad.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
