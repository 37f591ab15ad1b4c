import { createHmac } from 'node:crypto';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

/** A key pair made at test time, with the kid its JWKS entry and tokens carry. */
export interface SigningKey {
  algorithm: 'RS256' | 'ES256';
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export interface TokenOptions {
  /** Header typ; null leaves it out. Default at+jwt, as Bitwarden Identity writes. */
  typ?: string | null;
  /** Header kid; null leaves it out. Default the key's kid. */
  kid?: string | null;
}

let keyCounter = 0;

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export async function createSigningKey(
  algorithm: SigningKey['algorithm'],
  kid?: string,
): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true });
  keyCounter += 1;
  return { algorithm, kid: kid ?? `test-key-${keyCounter}`, privateKey, publicKey };
}

export async function publicJwk(key: SigningKey): Promise<JWK> {
  return { ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.algorithm, use: 'sig' };
}

export function publicPem(key: SigningKey): Promise<string> {
  return exportSPKI(key.publicKey);
}

/** Signs `claims` as given: tests choose every claim, including exp and nbf. */
export function signToken(key: SigningKey, claims: JWTPayload, options: TokenOptions = {}): Promise<string> {
  const typ = options.typ === undefined ? 'at+jwt' : options.typ;
  const kid = options.kid === undefined ? key.kid : options.kid;
  return new SignJWT(claims)
    .setProtectedHeader({
      alg: key.algorithm,
      ...(typ === null ? {} : { typ }),
      ...(kid === null ? {} : { kid }),
    })
    .sign(key.privateKey);
}

/** Claims shaped like a Bitwarden Identity access token for a browser extension, valid for an hour. */
export function bitwardenClaims(overrides: JWTPayload = {}): JWTPayload {
  const now = nowSeconds();
  return {
    nbf: now,
    iat: now,
    exp: now + 3600,
    iss: 'http://localhost/identity',
    client_id: 'browser',
    sub: '4C6B3F0E-94AB-4D7B-8E51-AB1200C0FFEE',
    auth_time: now,
    idp: 'bitwarden',
    premium: false,
    email: 'user@example.com',
    email_verified: true,
    sstamp: 'a-security-stamp',
    name: 'Test User',
    orgowner: ['6A1D9C2B-0C8E-4D55-9F3E-B0A100000001', 'd3b07384-d9a0-4c1f-8e2a-b0a100000002'],
    orguser: 'C2F0E6D4-3B7A-4E19-A5D8-B0A100000003',
    device: '0f8e2b1c-7d3a-4b5e-9c6f-1a2b3c4d5e6f',
    devicetype: 'ChromeExtension',
    jti: 'ABCDEF0123456789',
    scope: ['api', 'offline_access'],
    amr: ['Application'],
    ...overrides,
  };
}

/** Builds a compact JWS by hand, for tokens jose refuses to produce (alg none, HMAC with a public key). */
export function handMadeToken(
  header: Record<string, unknown>,
  claims: JWTPayload,
  hmacSecret?: string,
): string {
  const encode = (part: unknown) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(claims)}`;
  const signature =
    hmacSecret === undefined ? '' : createHmac('sha256', hmacSecret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}
