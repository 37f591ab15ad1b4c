import { createPrivateKey, type KeyObject } from 'node:crypto';

import { SignJWT } from 'jose';

import {
  describeNetworkError,
  inlineOrFile,
  type MobilePush,
  parseRetryAfter,
  PushProviderConfigError,
  readAnswer,
  type SendOutcome,
  tokenPrefix,
} from './send-outcome';

export interface FcmOptions {
  /** The service-account JSON: the text itself or a path to it. */
  serviceAccount: string;
  /** Default https://fcm.googleapis.com */
  apiUrl?: string;
  /** Default https://oauth2.googleapis.com/token */
  tokenUrl?: string;
  /** Per HTTP request (token or send). Default 10000. */
  timeoutMs?: number;
}

const defaultApiUrl = 'https://fcm.googleapis.com';
const defaultTokenUrl = 'https://oauth2.googleapis.com/token';
const messagingScope = 'https://www.googleapis.com/auth/firebase.messaging';
/** Google accepts assertions that live at most an hour. */
const assertionLifetimeSeconds = 3600;
/** Refresh this long before the access token expires, so a send never carries a token that dies in flight. */
const refreshMarginMs = 60_000;

interface ServiceAccount {
  projectId: string;
  clientEmail: string;
  privateKey: KeyObject;
}

interface AccessToken {
  value: string;
  refreshAt: number;
}

/** The token endpoint failed; `outcome` is what the send that needed the token comes to. */
class TokenFailure extends Error {
  constructor(readonly outcome: SendOutcome & { reason: string }) {
    super(outcome.reason);
  }
}

/**
 * Sends data messages through the FCM HTTP v1 API, authenticated with an OAuth2 access token that
 * it obtains from a service account (JWT-bearer grant) and caches until shortly before it expires.
 * google-auth-library hard-codes Google's token URL, so the grant is done here to keep the token
 * endpoint configurable (tests, emulators).
 */
export class FcmSender {
  private accessToken: AccessToken | undefined;
  private pendingToken: Promise<AccessToken> | undefined;

  private constructor(
    private readonly account: ServiceAccount,
    private readonly sendUrl: string,
    private readonly tokenUrl: string,
    private readonly timeoutMs: number,
  ) {}

  /** Validates the service account (project_id, client_email, private_key); throws PushProviderConfigError. */
  static async create(options: FcmOptions): Promise<FcmSender> {
    const text = await inlineOrFile(
      options.serviceAccount,
      (value) => /^\s*[{[]/.test(value),
      'The FCM service account',
    );
    const account = parseServiceAccount(text);
    const apiUrl = httpUrl(options.apiUrl ?? defaultApiUrl, 'FCM API URL').replace(/\/+$/, '');
    const tokenUrl = httpUrl(options.tokenUrl ?? defaultTokenUrl, 'FCM token URL');
    const sendUrl = `${apiUrl}/v1/projects/${encodeURIComponent(account.projectId)}/messages:send`;
    return new FcmSender(account, sendUrl, tokenUrl, options.timeoutMs ?? 10_000);
  }

  async send(token: string, push: MobilePush): Promise<SendOutcome> {
    // Wire format (PROTOCOL.md §7): FCM data values must be strings.
    const body = JSON.stringify({
      message: {
        token,
        data: { type: String(push.type), payload: JSON.stringify(push.payload) },
        android: { priority: 'high' },
      },
    });
    for (let attempt = 1; ; attempt++) {
      let accessToken: string;
      try {
        accessToken = await this.getAccessToken();
      } catch (error) {
        if (error instanceof TokenFailure) return error.outcome;
        throw error;
      }
      let response: Response;
      let responseBody: unknown;
      try {
        response = await fetch(this.sendUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        responseBody = await readJson(response);
      } catch (error) {
        return { kind: 'retry', reason: `FCM request failed: ${describeNetworkError(error)}` };
      }
      const error = fcmError(responseBody);
      // A 401 means our access token was refused (revoked, or expired early): fetch a new one once.
      if (response.status === 401 && error.code !== 'THIRD_PARTY_AUTH_ERROR' && attempt === 1) {
        this.forgetAccessToken(accessToken);
        continue;
      }
      return classify(response, error, token);
    }
  }

  /** The cached access token, or a new one; concurrent callers share one request to the token endpoint. */
  private async getAccessToken(): Promise<string> {
    const cached = this.accessToken;
    if (cached && Date.now() < cached.refreshAt) return cached.value;
    this.pendingToken ??= this.requestAccessToken().finally(() => (this.pendingToken = undefined));
    const fresh = await this.pendingToken;
    this.accessToken = fresh;
    return fresh.value;
  }

  private forgetAccessToken(value: string): void {
    // Only if no concurrent send has replaced it already.
    if (this.accessToken?.value === value) this.accessToken = undefined;
  }

  private async requestAccessToken(): Promise<AccessToken> {
    const issuedAt = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: messagingScope })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(this.account.clientEmail)
      .setAudience(this.tokenUrl)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + assertionLifetimeSeconds)
      .sign(this.account.privateKey);
    let response: Response;
    let body: unknown;
    try {
      response = await fetch(this.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      body = await readJson(response);
    } catch (error) {
      throw new TokenFailure({
        kind: 'retry',
        reason: `FCM token request failed: ${describeNetworkError(error)}`,
      });
    }
    const fields = isRecord(body) ? body : {};
    if (!response.ok) {
      // 4xx here is invalid_grant and the like: the service account is refused, which no retry mends.
      const detail = [fields['error'], fields['error_description']].filter(
        (part) => typeof part === 'string',
      );
      const reason = `FCM token endpoint answered ${response.status}${detail.length ? `: ${detail.join(': ')}` : ''}`;
      const transient = response.status >= 500 || response.status === 429;
      throw new TokenFailure(
        transient
          ? { kind: 'retry', reason, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) }
          : { kind: 'rejected', reason },
      );
    }
    const value = fields['access_token'];
    const expiresIn = fields['expires_in'];
    if (typeof value !== 'string' || typeof expiresIn !== 'number') {
      throw new TokenFailure({
        kind: 'retry',
        reason: 'FCM token endpoint answered without access_token/expires_in',
      });
    }
    const lifetimeMs = expiresIn * 1000;
    return { value, refreshAt: Date.now() + lifetimeMs - Math.min(refreshMarginMs, lifetimeMs / 2) };
  }
}

interface FcmErrorInfo {
  /** The FcmError detail's errorCode (UNREGISTERED, SENDER_ID_MISMATCH, ...). */
  code?: string;
  /** The google.rpc status (INVALID_ARGUMENT, NOT_FOUND, ...). */
  status?: string;
  message?: string;
  /** Fields named by google.rpc.BadRequest violations. */
  fields: string[];
}

/** Reads the google.rpc error body: {error: {code, message, status, details: [...]}}. */
function fcmError(body: unknown): FcmErrorInfo {
  const error = isRecord(body) && isRecord(body['error']) ? body['error'] : {};
  const details = Array.isArray(error['details']) ? error['details'].filter(isRecord) : [];
  const fcmDetail = details.find((detail) =>
    String(detail['@type']).endsWith('google.firebase.fcm.v1.FcmError'),
  );
  const fields = details.flatMap((detail) =>
    Array.isArray(detail['fieldViolations'])
      ? detail['fieldViolations'].filter(isRecord).map((violation) => String(violation['field']))
      : [],
  );
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    code: text(fcmDetail?.['errorCode']),
    status: text(error['status']),
    message: text(error['message']),
    fields,
  };
}

function classify(response: Response, error: FcmErrorInfo, token: string): SendOutcome {
  const status = response.status;
  if (status >= 200 && status < 300) return { kind: 'sent' };
  const label = error.code ?? error.status;
  const message = (token ? error.message?.split(token).join(tokenPrefix(token)) : error.message)?.slice(
    0,
    200,
  );
  const reason = `FCM ${status}${label ? ` ${label}` : ''}${message ? `: ${message}` : ''}`;
  if (status === 404 || error.code === 'UNREGISTERED') return { kind: 'gone', reason };
  if (status === 403 && error.code === 'SENDER_ID_MISMATCH') return { kind: 'gone', reason };
  if (status === 400 && aboutTheToken(error)) return { kind: 'gone', reason };
  if (status === 429 || status >= 500) {
    return { kind: 'retry', reason, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) };
  }
  // A fresh access token was refused as well (or THIRD_PARTY_AUTH_ERROR): retrying later may help after
  // a credentials fix; a 400/403 for this message will not.
  if (status === 401) return { kind: 'retry', reason };
  return { kind: 'rejected', reason };
}

/** An INVALID_ARGUMENT that names the registration token, not the message, as the culprit. */
function aboutTheToken(error: FcmErrorInfo): boolean {
  if (error.code !== 'INVALID_ARGUMENT' && error.status !== 'INVALID_ARGUMENT') return false;
  return error.fields.includes('message.token') || /registration token/i.test(error.message ?? '');
}

function parseServiceAccount(text: string): ServiceAccount {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PushProviderConfigError('The FCM service account is not valid JSON');
  }
  if (!isRecord(json)) throw new PushProviderConfigError('The FCM service account is not a JSON object');
  const field = (name: string): string => {
    const value = json[name];
    if (typeof value !== 'string' || value.trim() === '') {
      throw new PushProviderConfigError(`The FCM service account lacks "${name}"`);
    }
    return value;
  };
  const projectId = field('project_id');
  const clientEmail = field('client_email');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(field('private_key'));
  } catch (error) {
    if (error instanceof PushProviderConfigError) throw error;
    throw new PushProviderConfigError('The FCM service account\'s "private_key" is not a PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new PushProviderConfigError('The FCM service account\'s "private_key" is not an RSA key');
  }
  return { projectId, clientEmail, privateKey };
}

function httpUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PushProviderConfigError(`The ${what} is not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PushProviderConfigError(`The ${what} must be http(s): ${value}`);
  }
  return url.href;
}

async function readJson(response: Response): Promise<unknown> {
  const text = await readAnswer(response);
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
