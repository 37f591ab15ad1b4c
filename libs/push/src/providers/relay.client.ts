import {
  describeNetworkError,
  parseRetryAfter,
  PushProviderConfigError,
  readAnswer,
  type SendOutcome,
} from './send-outcome';

/** Bitwarden's cloud relay and identity hosts, per region (PROTOCOL.md §7). Spread into RelayOptions. */
export const BITWARDEN_CLOUD = {
  us: { relayUri: 'https://push.bitwarden.com', identityUri: 'https://identity.bitwarden.com' },
  eu: { relayUri: 'https://api.bitwarden.eu', identityUri: 'https://identity.bitwarden.eu' },
} as const;

export interface RelayOptions {
  /** Default https://push.bitwarden.com */
  relayUri?: string;
  /** Default https://identity.bitwarden.com */
  identityUri?: string;
  installationId: string;
  installationKey: string;
  /** Deadline of each HTTP request (token or relay call). Default 10 s. */
  timeoutMs?: number;
}

export interface RelayRegistration {
  deviceId: string;
  pushToken: string;
  userId: string;
  /** Bitwarden DeviceType. */
  type: number;
  identifier: string;
  organizationIds?: string[];
  installationId?: string;
}

export interface RelaySend {
  /** Bitwarden PushType. */
  type: number;
  payload: Record<string, unknown>;
  userId?: string;
  organizationId?: string;
  /** Must be this client's own installation id (the relay checks it against the token). */
  installationId?: string;
  deviceId?: string;
  /** Device identifier to exclude: the one that caused the change. */
  identifier?: string;
  clientType?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Refresh this long before the token expires, so a request never leaves with a dying token. */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** Lifetime assumed when identity omits `expires_in`; a shorter real one surfaces as a 401 and a refresh. */
const ASSUMED_LIFETIME_SECONDS = 3600;

type TokenResult = { token: string } | { failure: SendOutcome };

/**
 * Client of Bitwarden's push relay (the API self-hosted Bitwarden and Vaultwarden call), PROTOCOL.md
 * §7. Authenticates as the installation with client credentials; the access token is cached until
 * five minutes before it expires, concurrent callers share one refresh, and a 401 triggers exactly
 * one refresh and retry. Never throws for a call: every failure is an outcome. Reasons never carry
 * the installation key or a token.
 */
export class RelayClient {
  private readonly relayUri: string;
  private readonly tokenUrl: string;
  private readonly installationId: string;
  private readonly installationKey: string;
  private readonly timeoutMs: number;
  private token: { value: string; refreshAt: number } | undefined;
  private refreshing: Promise<TokenResult> | undefined;

  constructor(options: RelayOptions) {
    this.relayUri = baseUri(options.relayUri ?? BITWARDEN_CLOUD.us.relayUri, 'relay URI');
    this.tokenUrl = `${baseUri(options.identityUri ?? BITWARDEN_CLOUD.us.identityUri, 'identity URI')}/connect/token`;
    if (!options.installationId) throw new PushProviderConfigError('relay installation id is missing');
    if (!options.installationKey) throw new PushProviderConfigError('relay installation key is missing');
    this.installationId = options.installationId;
    this.installationKey = options.installationKey;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new PushProviderConfigError(
        `relay timeout must be a positive number of milliseconds, got ${this.timeoutMs}`,
      );
    }
  }

  // Routes and body fields are the relay's wire contract (PROTOCOL.md §7): renaming breaks the peer.

  register(registration: RelayRegistration): Promise<SendOutcome> {
    return this.call('POST', '/push/register', {
      deviceId: registration.deviceId,
      pushToken: registration.pushToken,
      userId: registration.userId,
      type: registration.type,
      identifier: registration.identifier,
      organizationIds: registration.organizationIds,
      installationId: registration.installationId,
    });
  }

  delete(deviceId: string): Promise<SendOutcome> {
    return this.call('POST', '/push/delete', { id: deviceId });
  }

  addOrganization(deviceIds: string[], organizationId: string): Promise<SendOutcome> {
    return this.call('PUT', '/push/add-organization', {
      devices: deviceIds.map((id) => ({ id })),
      organizationId,
    });
  }

  deleteOrganization(deviceIds: string[], organizationId: string): Promise<SendOutcome> {
    return this.call('PUT', '/push/delete-organization', {
      devices: deviceIds.map((id) => ({ id })),
      organizationId,
    });
  }

  async send(message: RelaySend): Promise<SendOutcome> {
    // The relay answers 400 to both; refusing here saves a round trip and names the mistake.
    if (
      message.userId === undefined &&
      message.organizationId === undefined &&
      message.installationId === undefined
    ) {
      return { kind: 'rejected', reason: 'relay send needs a userId, organizationId or installationId' };
    }
    if (message.installationId !== undefined && message.installationId !== this.installationId) {
      return { kind: 'rejected', reason: 'relay send installationId must be this installation' };
    }
    return this.call('POST', '/push/send', {
      type: message.type,
      payload: message.payload,
      userId: message.userId,
      organizationId: message.organizationId,
      installationId: message.installationId,
      deviceId: message.deviceId,
      identifier: message.identifier,
      clientType: message.clientType,
    });
  }

  private async call(method: 'POST' | 'PUT', path: string, body: object): Promise<SendOutcome> {
    const first = await this.accessToken();
    if ('failure' in first) return first.failure;
    const answer = await this.request(method, path, body, first.token);
    if (answer !== 'unauthorized') return answer;

    // Revoked or expired early: one fresh token, one more try.
    this.forget(first.token);
    const second = await this.accessToken();
    if ('failure' in second) return second.failure;
    const retried = await this.request(method, path, body, second.token);
    if (retried !== 'unauthorized') return retried;
    this.forget(second.token);
    return { kind: 'rejected', reason: 'invalid installation credentials' };
  }

  private async request(
    method: string,
    path: string,
    body: object,
    token: string,
  ): Promise<SendOutcome | 'unauthorized'> {
    const what = `relay ${method} ${path}`;
    try {
      const response = await fetch(`${this.relayUri}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await readAnswer(response);
      if (response.status === 401) return 'unauthorized';
      return outcomeOf(
        response.status,
        response.headers.get('retry-after'),
        `${what} answered ${response.status}`,
        () => relayError(text),
      );
    } catch (error) {
      return { kind: 'retry', reason: `${what} failed: ${describeNetworkError(error)}` };
    }
  }

  private accessToken(): Promise<TokenResult> {
    if (this.token !== undefined && Date.now() < this.token.refreshAt)
      return Promise.resolve({ token: this.token.value });
    this.refreshing ??= this.fetchToken().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Drops a token the relay refused, unless a concurrent caller already replaced it. */
  private forget(token: string): void {
    if (this.token?.value === token) this.token = undefined;
  }

  private async fetchToken(): Promise<TokenResult> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'api.push',
      client_id: `installation.${this.installationId}`,
      client_secret: this.installationKey,
    });
    const requestedAt = Date.now();
    try {
      const response = await fetch(this.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await readAnswer(response);
      if (!response.ok) {
        const oauthError = identityError(text);
        if (oauthError === 'invalid_client') {
          return {
            failure: {
              kind: 'rejected',
              reason: 'invalid_client: identity refused the installation id or key',
            },
          };
        }
        const reason = `identity answered ${response.status}${oauthError ? ` (${oauthError})` : ''}`;
        return { failure: outcomeOf(response.status, response.headers.get('retry-after'), reason) };
      }
      const grant = parseGrant(text);
      if (grant === undefined)
        return { failure: { kind: 'retry', reason: 'identity answered without an access token' } };
      const lifetimeMs = grant.expiresIn * 1000;
      this.token = {
        value: grant.accessToken,
        refreshAt: requestedAt + lifetimeMs - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 2),
      };
      return { token: grant.accessToken };
    } catch (error) {
      return {
        failure: { kind: 'retry', reason: `identity token request failed: ${describeNetworkError(error)}` },
      };
    }
  }
}

function outcomeOf(
  status: number,
  retryAfter: string | null,
  reason: string,
  detail?: () => string,
): SendOutcome {
  if (status >= 200 && status < 300) return { kind: 'sent' };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs };
  }
  // 400 validation, 403, 404 (wrong relay URI), redirects: the same request cannot succeed later.
  return { kind: 'rejected', reason: `${reason}${detail?.() ?? ''}` };
}

function parseGrant(text: string): { accessToken: string; expiresIn: number } | undefined {
  const body = parseJson(text);
  if (typeof body?.['access_token'] !== 'string' || body['access_token'] === '') return undefined;
  const expiresIn = body['expires_in'];
  return {
    accessToken: body['access_token'],
    expiresIn: typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : ASSUMED_LIFETIME_SECONDS,
  };
}

/** The OAuth `error` code of an identity refusal, if it looks like one (never echo arbitrary text). */
function identityError(text: string): string | undefined {
  const error = parseJson(text)?.['error'];
  return typeof error === 'string' && /^[a-z_]{1,64}$/.test(error) ? error : undefined;
}

/** Bitwarden's error body is `{message, validationErrors}`; keep the message, short and on one line. */
function relayError(text: string): string {
  const message = parseJson(text)?.['message'];
  const summary = (typeof message === 'string' ? message : text).replace(/\s+/g, ' ').trim();
  if (summary === '') return '';
  return `: ${summary.length > 200 ? `${summary.slice(0, 200)}…` : summary}`;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function baseUri(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PushProviderConfigError(`${name} is not a URL: "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PushProviderConfigError(`${name} must be an http(s) URL: "${value}"`);
  }
  return value.replace(/\/+$/, '');
}
