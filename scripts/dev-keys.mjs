// Development signing keys: an RS256 pair in HERALD_DATA_DIR (default .herald-data), made once.
// `npm start` trusts the public half when no token source is configured; `npm run token` signs
// with the private half. Never use these in production: point Herald at your vault's keys.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { exportPKCS8, exportSPKI, generateKeyPair, importPKCS8 } from 'jose';

export const dataDir = resolve(process.env.HERALD_DATA_DIR || '.herald-data');
export const publicKeyPath = join(dataDir, 'dev-jwt-public.pem');
const privateKeyPath = join(dataDir, 'dev-jwt-private.pem');

export async function ensureDevKeys() {
  if (!existsSync(privateKeyPath) || !existsSync(publicKeyPath)) {
    mkdirSync(dataDir, { recursive: true });
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    writeFileSync(privateKeyPath, await exportPKCS8(privateKey), { mode: 0o600 });
    writeFileSync(publicKeyPath, await exportSPKI(publicKey));
  }
  return { publicKeyPath, privateKeyPath };
}

export async function devPrivateKey() {
  await ensureDevKeys();
  return importPKCS8(readFileSync(privateKeyPath, 'utf8'), 'RS256');
}
