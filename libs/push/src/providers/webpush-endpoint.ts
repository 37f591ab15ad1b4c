import { lookup as systemLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** What a host name resolves to; `dns.lookup` with `all: true` by default, a table in tests. */
export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

/** The `lookup` option of `net.connect` and of HTTP agents. */
export type ConnectLookup = (
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/** A connection to a Web Push endpoint was not made: the address it would reach is off limits. */
export class EndpointRefusedError extends Error {
  readonly code = 'EHERALD_ENDPOINT_REFUSED';

  constructor(message: string) {
    super(message);
    this.name = 'EndpointRefusedError';
  }
}

/**
 * Targets a user-supplied endpoint must never reach: they are this host, its networks or nobody's
 * (IANA special-purpose registries). IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is matched by BlockList
 * against the IPv4 ranges; NAT64 and 6to4 addresses embed an IPv4 address and get its verdict.
 */
const IPV4_RANGES: readonly (readonly [string, number, string])[] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const IPV6_RANGES: readonly (readonly [string, number, string])[] = [
  // Unspecified (::), loopback (::1) and the deprecated IPv4-compatible addresses.
  ['::', 96, 'unspecified or loopback'],
  ['64:ff9b:1::', 48, 'private'],
  ['100::', 64, 'reserved'],
  ['2001:db8::', 32, 'reserved'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

/** One BlockList per kind of target, so that a refusal can say which kind it was. */
const FORBIDDEN: readonly (readonly [string, BlockList])[] = (() => {
  const lists = new Map<string, BlockList>();
  const listOf = (kind: string) => {
    let list = lists.get(kind);
    if (!list) lists.set(kind, (list = new BlockList()));
    return list;
  };
  for (const [address, prefix, kind] of IPV4_RANGES) {
    const list = listOf(kind);
    list.addSubnet(address, prefix, 'ipv4');
    // NAT64 (RFC 6052 well-known prefix) carries the IPv4 address in its last 32 bits.
    list.addSubnet(`64:ff9b::${address}`, 96 + prefix, 'ipv6');
    // 6to4 (RFC 3056) carries it in bits 16 to 48.
    list.addSubnet(`2002:${hexGroups(address)}::`, 16 + prefix, 'ipv6');
  }
  for (const [address, prefix, kind] of IPV6_RANGES) listOf(kind).addSubnet(address, prefix, 'ipv6');
  return [...lists];
})();

function hexGroups(ipv4: string): string {
  const [a = 0, b = 0, c = 0, d = 0] = ipv4.split('.').map(Number);
  return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

function familyOf(address: string): 'ipv4' | 'ipv6' | undefined {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

/**
 * What kind of forbidden target `address` is (`loopback`, `private`, …), or undefined for a public
 * address. Anything that is not an IP address is forbidden as well.
 */
export function forbiddenKind(address: string): string | undefined {
  const family = familyOf(address);
  if (family === undefined) return 'not an IP address';
  return FORBIDDEN.find(([, list]) => list.check(address, family))?.[0];
}

/** Why an allow-list entry is unusable, or undefined when it is a host name, an IP address or a CIDR range. */
export function allowListProblem(entry: string): string | undefined {
  const [address = '', prefix, extra] = entry.split('/');
  const family = familyOf(address);
  if (family !== undefined) {
    if (extra !== undefined) return `"${entry}" is not a CIDR range`;
    if (prefix === undefined) return undefined;
    const bits = Number(prefix);
    const max = family === 'ipv4' ? 32 : 128;
    return /^\d{1,3}$/.test(prefix) && bits <= max
      ? undefined
      : `"${entry}" has a prefix length outside 0-${max}`;
  }
  return /^(?=.{1,253}\.?$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i.test(
    entry,
  )
    ? undefined
    : `"${entry}" is neither a host name, an IP address nor a CIDR range`;
}

/** `scheme://host[:port]` of an http(s) URL; the path stays out of logs, it is the subscription's secret. */
export function endpointOrigin(endpoint: string): string | undefined {
  try {
    const url = new URL(endpoint);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

const resolveWithSystem: Resolve = (hostname) =>
  new Promise((resolve, reject) =>
    systemLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );

/**
 * Where Web Push requests may go. Endpoints come from users, so a push must never become a request
 * into the push worker's own networks: the endpoint must be https, and every address its host
 * resolves to must be public. The check runs twice: when a subscription is registered (a clear
 * refusal for the client) and on every connection (`lookup`, through which the sender's agents
 * resolve), so a name that resolves elsewhere by the time of the push is refused too, and the
 * address checked is the address connected to.
 *
 * `allowed` (HERALD_WEBPUSH_ALLOWED_HOSTS) lifts the rules: a listed host name is trusted whatever it
 * resolves to, and addresses in listed IP addresses or CIDR ranges are; both may use plain http.
 */
export class WebPushEndpointPolicy {
  private readonly allowedNames = new Set<string>();
  private readonly allowedAddresses = new BlockList();

  /** The `lookup` for the agents of Web Push requests: resolves, then refuses any forbidden address. */
  readonly lookup: ConnectLookup = (hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 6 ? options.family : undefined;
    this.resolve(hostname).then(
      (found) => {
        const addresses = found.filter((entry) => wanted === undefined || entry.family === wanted);
        const refusal = this.refusalOfName(hostname, addresses);
        if (refusal !== undefined) return callback(new EndpointRefusedError(refusal), []);
        const [first] = addresses;
        if (first === undefined) {
          const error: NodeJS.ErrnoException = new Error(`${hostname} has no address`);
          error.code = 'ENOTFOUND';
          return callback(error, []);
        }
        return options.all ? callback(null, addresses) : callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };

  constructor(
    allowed: readonly string[] = [],
    private readonly resolve: Resolve = resolveWithSystem,
  ) {
    for (const entry of allowed) {
      const problem = allowListProblem(entry);
      if (problem !== undefined) throw new Error(`HERALD_WEBPUSH_ALLOWED_HOSTS: ${problem}`);
      const [address = '', prefix] = entry.split('/');
      const family = familyOf(address);
      if (family === undefined) this.allowedNames.add(normalName(entry));
      else if (prefix === undefined) this.allowedAddresses.addAddress(address, family);
      else this.allowedAddresses.addSubnet(address, Number(prefix), family);
    }
  }

  /**
   * Why a push may not go to `endpoint`, or undefined when it may: what registration checks. Resolves
   * the host name (a name that does not resolve is refused too: the client sent something unusable).
   */
  async refusal(endpoint: string): Promise<string | undefined> {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return 'expected an https URL';
    }
    const early = this.refusalOfUrl(url);
    if (early !== undefined) return early;
    const host = hostOf(url);
    if (isIP(host) !== 0 || this.allowedNames.has(host)) return undefined;
    let addresses: LookupAddress[];
    try {
      addresses = await this.resolve(host);
    } catch (error) {
      return `${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'lookup failed'})`;
    }
    if (addresses.length === 0) return `${host} does not resolve`;
    return this.refusalOfName(host, addresses);
  }

  /**
   * What can be told from the URL alone: its scheme, and its address when the host is an IP literal
   * (a literal is connected to without a lookup). Plain http only for allowed hosts.
   */
  refusalOfUrl(url: URL): string | undefined {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'expected an https URL';
    const host = hostOf(url);
    const literal = isIP(host) !== 0;
    if (url.protocol === 'http:') {
      const allowed = literal ? this.isAllowedAddress(host) : this.allowedNames.has(host);
      if (!allowed) return 'expected an https URL (plain http only for HERALD_WEBPUSH_ALLOWED_HOSTS)';
    }
    return literal ? this.refusalOfAddress(host) : undefined;
  }

  private refusalOfName(hostname: string, addresses: readonly LookupAddress[]): string | undefined {
    if (this.allowedNames.has(normalName(hostname))) return undefined;
    for (const { address } of addresses) {
      const refusal = this.refusalOfAddress(address);
      // Every address counts: a connection may use any of them.
      if (refusal !== undefined) return `${hostname} resolves to ${refusal}`;
    }
    return undefined;
  }

  private refusalOfAddress(address: string): string | undefined {
    if (this.isAllowedAddress(address)) return undefined;
    const kind = forbiddenKind(address);
    return kind === undefined ? undefined : `${address} (${kind})`;
  }

  private isAllowedAddress(address: string): boolean {
    const family = familyOf(address);
    return family !== undefined && this.allowedAddresses.check(address, family);
  }
}

/** The URL's host as compared: lowercase, without IPv6 brackets or a trailing dot. */
function hostOf(url: URL): string {
  return normalName(url.hostname.replace(/^\[(.*)\]$/, '$1'));
}

function normalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
