import { randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';

// scrypt cost (N = 2^14, r = 8, p = 1: about 16 MiB and tens of milliseconds per check). The
// parameters travel with each hash, so they can be raised later without invalidating old keys.
const COST: Required<Pick<ScryptOptions, 'N' | 'r' | 'p'>> = { N: 16_384, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** 30 random bytes = 40 base64url characters. */
const KEY_BYTES = 30;
/** Longer "keys" are refused before hashing, so a caller cannot make us hash megabytes. */
const MAX_KEY_LENGTH = 256;

/** A fresh installation key: random, base64url, shown once. */
export function newInstallationKey(): string {
  return randomBytes(KEY_BYTES).toString('base64url');
}

/** `scrypt$N$r$p$salt$hash`, salt and hash base64url. */
export async function hashInstallationKey(key: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(key, salt, HASH_BYTES, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Whether `key` matches `stored` (constant-time compare); false for a malformed stored value. */
export async function installationKeyMatches(key: string, stored: string): Promise<boolean> {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) return false;
  const [scheme, n, r, p, salt, hash, ...rest] = stored.split('$');
  if (scheme !== 'scrypt' || rest.length > 0 || salt === undefined || hash === undefined) return false;
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  if (![cost.N, cost.r, cost.p].every((value) => Number.isSafeInteger(value) && value > 0)) return false;
  const expected = Buffer.from(hash, 'base64url');
  if (expected.length === 0) return false;
  const actual = await derive(key, Buffer.from(salt, 'base64url'), expected.length, cost);
  return timingSafeEqual(actual, expected);
}

function derive(key: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(key, salt, length, options, (error, derived) => (error ? reject(error) : resolve(derived)));
  });
}
