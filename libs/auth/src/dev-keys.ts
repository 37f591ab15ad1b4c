import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, SignJWT } from 'jose';

/**
 * Development signing keys: an RS256 pair in the data directory, made once. The single-process
 * Herald trusts the public half when no token source is configured, and `herald token` signs with
 * the private half. Never use them in production: point Herald at the vault's own keys.
 */
export interface DevKeys {
  dataDir: string;
  publicKeyPath: string;
  privateKeyPath: string;
  /** True when this call made the pair. */
  created: boolean;
}

/** The issuer development tokens carry (the form Bitwarden's identity server uses). */
export const DEV_TOKEN_ISSUER = 'http://localhost|login';

export function devKeyPaths(dataDir: string): Omit<DevKeys, 'created'> {
  const dir = resolve(dataDir);
  return {
    dataDir: dir,
    publicKeyPath: join(dir, 'dev-jwt-public.pem'),
    privateKeyPath: join(dir, 'dev-jwt-private.pem'),
  };
}

export async function ensureDevKeys(dataDir: string): Promise<DevKeys> {
  const paths = devKeyPaths(dataDir);
  if (existsSync(paths.privateKeyPath) && existsSync(paths.publicKeyPath))
    return { ...paths, created: false };
  mkdirSync(paths.dataDir, { recursive: true });
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  writeFileSync(paths.privateKeyPath, await exportPKCS8(privateKey), { mode: 0o600 });
  writeFileSync(paths.publicKeyPath, await exportSPKI(publicKey));
  return { ...paths, created: true };
}

/** What a development token says about its holder. */
export type DevTokenRequest =
  | {
      kind: 'user';
      userId?: string;
      deviceId?: string;
      /** Bitwarden's device type name, e.g. `ChromeBrowser`, `Android`, `WindowsDesktop`. */
      deviceType?: string;
      organizations?: string[];
      /** Seconds until it expires. */
      expiresIn?: number;
    }
  | { kind: 'internal'; clientId?: string; expiresIn?: number };

/** Signs a development token with the data directory's key (making the pair if needed). */
export async function mintDevToken(dataDir: string, request: DevTokenRequest): Promise<string> {
  const { privateKeyPath } = await ensureDevKeys(dataDir);
  const key = await importPKCS8(readFileSync(privateKeyPath, 'utf8'), 'RS256');
  const claims =
    request.kind === 'internal'
      ? {
          sub: request.clientId ?? 'internal.Api',
          client_id: request.clientId ?? 'internal.Api',
          scope: ['internal'],
        }
      : {
          sub: request.userId ?? randomUUID(),
          device: request.deviceId ?? randomUUID(),
          devicetype: request.deviceType ?? 'ChromeBrowser',
          scope: ['api', 'offline_access'],
          amr: ['Application'],
          ...(request.organizations && request.organizations.length > 0
            ? { orguser: request.organizations }
            : {}),
        };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuedAt()
    .setIssuer(DEV_TOKEN_ISSUER)
    .setExpirationTime(Math.floor(Date.now() / 1000) + (request.expiresIn ?? 12 * 3600))
    .sign(key);
}
