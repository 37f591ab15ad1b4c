export interface NatsCredentials {
  user?: string;
  pass?: string;
  token?: string;
}

/** Connection options for the nats client: the server URLs without credentials, and the credentials. */
export interface NatsServers extends NatsCredentials {
  servers: string[];
}

/**
 * nats.js reads no credentials from a server URL, so `nats://user:password@host:4222` (or
 * `nats://token@host:4222`) in HERALD_NATS_URL would connect without them and be refused. The
 * list is split here into bare server URLs and the credentials, passed as options; URLs without
 * credentials share those of the others, and two different sets are an error (nats.js presents
 * one to every server).
 */
export function natsServersAndCredentials(servers: string): NatsServers {
  const found = new Map<string, NatsCredentials>();
  const bare = servers.split(',').map((entry) => {
    const server = entry.trim();
    if (!server.includes('://')) return server;
    const url = new URL(server);
    if (!url.username) return server;
    const user = decodeURIComponent(url.username);
    const credentials = url.password ? { user, pass: decodeURIComponent(url.password) } : { token: user };
    found.set(JSON.stringify(credentials), credentials);
    return `${url.protocol}//${url.host}`;
  });
  if (found.size > 1) {
    throw new Error('HERALD_NATS_URL: every server must be given the same credentials (or none)');
  }
  return { servers: bare, ...[...found.values()][0] };
}
