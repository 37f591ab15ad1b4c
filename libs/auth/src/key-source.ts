import { createRemoteJWKSet, type CryptoKey, type FlattenedJWSInput, type JWTHeaderParameters } from 'jose';
import { AuthError } from './auth.error';
import { loadPemKey, type SigningAlgorithm } from './pem-key';

/** Where token signing keys come from: exactly one of `publicKey`, `jwksUrl`, `authority`. */
export interface KeySourceOptions {
  /** PEM text (SPKI "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY" or X.509 "CERTIFICATE") or a path to a file holding it. */
  publicKey?: string;
  /** JWKS endpoint. */
  jwksUrl?: string;
  /** OIDC authority: its discovery document names the JWKS endpoint. */
  authority?: string;
  /** Expected `iss`; unchecked when unset. */
  issuer?: string;
  /** Allowed clock skew for `exp` and `nbf`. Default 60. */
  clockToleranceSeconds?: number;
  /** Timeout of each discovery or JWKS request. Default 5000. */
  fetchTimeoutMs?: number;
  /**
   * Minimum time between two JWKS refetches caused by tokens naming an unknown key id, so forged
   * kids cannot make Herald hammer the identity server. Default 30000.
   */
  keySetCooldownMs?: number;
}

/** A jose key resolver (`JWTVerifyGetKey`) narrowed to the CryptoKeys Herald resolves. */
export type KeyResolver = (header: JWTHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** A resolved key source: which algorithms it allows and a jose key resolver. */
export interface KeySource {
  readonly algorithms: readonly SigningAlgorithm[];
  /** Throws AuthError: 'unknown-key' when no key matches the token, 'key-source-unavailable' when keys cannot be fetched. */
  readonly getKey: KeyResolver;
}

interface FetchTiming {
  fetchTimeoutMs: number;
  keySetCooldownMs: number;
}

const remoteAlgorithms: readonly SigningAlgorithm[] = ['RS256', 'ES256'];
const keySourceNames = ['publicKey', 'jwksUrl', 'authority'] as const;

/** Validates the key source options and prepares the source. Remote sources are only contacted on first use. */
export async function createKeySource(options: KeySourceOptions): Promise<KeySource> {
  const chosen = keySourceNames.filter((name) => (options[name] ?? '').trim() !== '');
  if (chosen.length !== 1) {
    throw new Error(
      chosen.length === 0
        ? 'TokenVerifier needs a key source: set one of publicKey, jwksUrl or authority'
        : `TokenVerifier takes exactly one key source, got ${chosen.join(' and ')}`,
    );
  }
  const timing: FetchTiming = {
    fetchTimeoutMs: positiveInteger('fetchTimeoutMs', options.fetchTimeoutMs, 5000),
    keySetCooldownMs: positiveInteger('keySetCooldownMs', options.keySetCooldownMs, 30_000, true),
  };
  if (options.publicKey?.trim()) {
    const { algorithm, key } = await loadPemKey(options.publicKey);
    return { algorithms: [algorithm], getKey: () => Promise.resolve(key) };
  }
  if (options.jwksUrl?.trim()) {
    return {
      algorithms: remoteAlgorithms,
      getKey: remoteKeySet(httpUrl('jwksUrl', options.jwksUrl), timing),
    };
  }
  const discovered = new DiscoveredKeySet(httpUrl('authority', options.authority ?? ''), timing);
  return { algorithms: remoteAlgorithms, getKey: (header, token) => discovered.getKey(header, token) };
}

/** Finds the JWKS endpoint through OIDC discovery on first use, then behaves like a JWKS source. */
class DiscoveredKeySet {
  private keySet?: KeyResolver;
  private pending?: Promise<KeyResolver>;

  constructor(
    private readonly authority: URL,
    private readonly timing: FetchTiming,
  ) {}

  async getKey(header: JWTHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    const keySet = this.keySet ?? (await this.discover());
    return keySet(header, token);
  }

  private discover(): Promise<KeyResolver> {
    // Concurrent first requests share one discovery; a failure is not remembered, so a later request retries.
    this.pending ??= fetchJwksUri(this.authority, this.timing.fetchTimeoutMs)
      .then((jwksUri) => (this.keySet = remoteKeySet(jwksUri, this.timing)))
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}

async function fetchJwksUri(authority: URL, timeoutMs: number): Promise<URL> {
  const url = new URL(`${authority.href.replace(/\/+$/, '')}/.well-known/openid-configuration`);
  const unavailable = (why: string) =>
    new AuthError('key-source-unavailable', `OIDC discovery at ${describeUrl(url)} failed: ${why}`);
  let document: unknown;
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw unavailable(`HTTP ${response.status}`);
    }
    document = await response.json();
  } catch (error) {
    throw error instanceof AuthError ? error : unavailable(describeError(error));
  }
  const jwksUri =
    typeof document === 'object' && document !== null
      ? (document as Record<string, unknown>)['jwks_uri']
      : undefined;
  if (typeof jwksUri !== 'string') {
    throw unavailable('the document has no jwks_uri');
  }
  try {
    return httpUrl('jwks_uri', new URL(jwksUri, url).href);
  } catch (error) {
    throw unavailable(describeError(error));
  }
}

/** jose's remote key set (cached, refetched on an unknown kid after the cooldown), with failures mapped to AuthError. */
function remoteKeySet(url: URL, timing: FetchTiming): KeyResolver {
  const keySet = createRemoteJWKSet(url, {
    timeoutDuration: timing.fetchTimeoutMs,
    cooldownDuration: timing.keySetCooldownMs,
  });
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      throw keySetFailure(error, header, url);
    }
  };
}

function keySetFailure(error: unknown, header: JWTHeaderParameters, url: URL): AuthError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_JWKS_NO_MATCHING_KEY') {
    // kid comes from the token, so it is shortened before it reaches a log line.
    const kid = typeof header.kid === 'string' ? ` ${JSON.stringify(header.kid.slice(0, 64))}` : '';
    return new AuthError(
      'unknown-key',
      `no key${kid} for ${String(header.alg)} in the key set at ${describeUrl(url)}`,
    );
  }
  if (code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
    return new AuthError(
      'unknown-key',
      `the token names no kid and the key set at ${describeUrl(url)} holds several keys`,
    );
  }
  return new AuthError(
    'key-source-unavailable',
    `key set at ${describeUrl(url)} unavailable: ${describeError(error)}`,
  );
}

function httpUrl(option: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new Error(`${option} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${option} must be an http or https URL`);
  }
  return url;
}

function positiveInteger(
  option: string,
  value: number | undefined,
  fallback: number,
  allowZero = false,
): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isInteger(value) || value < 0 || (value === 0 && !allowZero)) {
    throw new Error(`${option} must be a ${allowZero ? 'non-negative' : 'positive'} integer`);
  }
  return value;
}

/** Origin and path only: a query string may carry credentials. */
function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Duck-typed: fetch errors come from Node's realm, which `instanceof Error` in a sandbox would miss. */
function describeError(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const detail = cause?.code ?? cause?.message;
  const text = typeof message === 'string' ? message : String(error);
  return typeof detail === 'string' ? `${text} (${detail})` : text;
}
