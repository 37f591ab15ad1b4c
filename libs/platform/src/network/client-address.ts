import { BlockList, isIP } from 'node:net';

/**
 * The client's address as far as it can be trusted: the peer address, unless the peer is one of
 * the configured proxies (`HERALD_TRUSTED_PROXIES`); then `X-Forwarded-For` is read from the
 * right, skipping trusted proxies, and the first address that is not one is the client. A forged
 * header from an untrusted peer is never believed. The gateway's connection limits and the push
 * worker's `/connect/token` failure limit key on it.
 */
export class ClientAddressResolver {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  /** `proxies`: IP addresses or CIDR ranges (`10.0.0.0/8`, `::1`). */
  constructor(proxies: string[]) {
    for (const proxy of proxies) {
      const [address, prefix] = proxy.split('/');
      const family = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
      if (!address || isIP(address) === 0) throw new Error(`not an IP address or CIDR range: ${proxy}`);
      if (prefix === undefined) this.trusted.addAddress(address, family);
      else this.trusted.addSubnet(address, Number(prefix), family);
    }
    this.any = proxies.length > 0;
  }

  resolve(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const remote = normalize(peer ?? 'unknown');
    if (!this.any || !this.isTrusted(remote)) return remote;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? ''))
      .split(',')
      .map((hop) => normalize(hop.trim()))
      .filter((hop) => isIP(hop) !== 0);
    for (let index = hops.length - 1; index >= 0; index -= 1) {
      const hop = hops[index];
      if (hop !== undefined && !this.isTrusted(hop)) return hop;
    }
    return hops[0] ?? remote;
  }

  private isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** IPv4 peers on a dual-stack socket arrive as `::ffff:1.2.3.4`. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
