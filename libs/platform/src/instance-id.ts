import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * A name for this process among its peers on the dashboard: `<host>-<pid>`, the host name cut to
 * 40 characters of `[A-Za-z0-9_-]`, and with `unique` a random suffix (a restarted container may
 * get the same host and pid). At most 64 characters, safe in a NATS subject token.
 */
export function processInstanceId(unique = true): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 40);
  const base = `${host}-${process.pid}`;
  return unique ? `${base}-${randomBytes(2).toString('hex')}` : base;
}
