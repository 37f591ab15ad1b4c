import { createPrivateKey, type KeyObject } from 'node:crypto';
import { type ClientHttp2Session, connect, constants, type IncomingHttpHeaders } from 'node:http2';

import { SignJWT } from 'jose';

import {
  describeNetworkError,
  inlineOrFile,
  MAX_ANSWER_BYTES,
  type MobilePush,
  parseRetryAfter,
  PushProviderConfigError,
  type SendOutcome,
} from './send-outcome';

export interface ApnsOptions {
  /** The .p8 signing key: PEM text or a path to it. */
  key: string;
  keyId: string;
  teamId: string;
  /** The app's bundle id. */
  topic: string;
  /** 'production' (default), 'sandbox' or a URL; http:// means HTTP/2 cleartext (tests). */
  // `string & Record<never, never>` is any string, but keeps the two names visible to editors.
  host?: 'production' | 'sandbox' | (string & Record<never, never>);
  /** Per request. Default 10000. */
  timeoutMs?: number;
}

const hosts: Record<string, string> = {
  production: 'https://api.push.apple.com',
  sandbox: 'https://api.sandbox.push.apple.com',
};
/**
 * APNs refuses provider tokens older than an hour and answers TooManyProviderTokenUpdates to tokens
 * renewed more often than every 20 minutes; 40 minutes sits safely between.
 */
const providerTokenLifetimeMs = 40 * 60_000;

interface ProviderToken {
  value: string;
  issuedAt: number;
}

interface ApnsResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Sends background notifications through the APNs provider API over one HTTP/2 session, reused by
 * every send and reopened when APNs closes it (GOAWAY, idle timeout, network error). Authenticates
 * with an ES256 provider token that it renews every 40 minutes.
 */
export class ApnsSender {
  private session: ClientHttp2Session | undefined;
  private providerToken: ProviderToken | undefined;
  private pendingProviderToken: Promise<ProviderToken> | undefined;

  private constructor(
    private readonly key: KeyObject,
    private readonly keyId: string,
    private readonly teamId: string,
    private readonly topic: string,
    /** Where every request goes: the origin `host` resolved to. */
    readonly origin: string,
    private readonly timeoutMs: number,
  ) {}

  /** Validates the key (an EC P-256 .p8), ids and host; throws PushProviderConfigError. Connects lazily. */
  static async create(options: ApnsOptions): Promise<ApnsSender> {
    for (const name of ['keyId', 'teamId', 'topic'] as const) {
      if (!options[name]?.trim()) throw new PushProviderConfigError(`The APNs ${name} is missing`);
    }
    const pem = await inlineOrFile(options.key, (value) => value.includes('-----BEGIN'), 'The APNs key');
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new PushProviderConfigError('The APNs key is not a PEM private key');
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new PushProviderConfigError('The APNs key is not an EC P-256 key (an APNs .p8 signing key)');
    }
    return new ApnsSender(
      key,
      options.keyId.trim(),
      options.teamId.trim(),
      options.topic.trim(),
      resolveOrigin(options.host),
      options.timeoutMs ?? 10_000,
    );
  }

  async send(deviceToken: string, push: MobilePush): Promise<SendOutcome> {
    // Wire format (PROTOCOL.md §7): data.type a number, data.payload a JSON string.
    const body = JSON.stringify({
      aps: { 'content-available': 1 },
      data: { type: push.type, payload: JSON.stringify(push.payload) },
    });
    for (let attempt = 1; ; attempt++) {
      const providerToken = await this.getProviderToken();
      let response: ApnsResponse;
      try {
        response = await this.post(`/3/device/${encodeURIComponent(deviceToken)}`, providerToken, body);
      } catch (error) {
        return { kind: 'retry', reason: `APNs request failed: ${describeNetworkError(error)}` };
      }
      const reason = reasonOf(response.body);
      if (response.status === 403 && reason === 'ExpiredProviderToken' && attempt === 1) {
        this.forgetProviderToken(providerToken);
        continue;
      }
      return classify(response, reason);
    }
  }

  /** Closes the HTTP/2 session after its in-flight requests; a later send opens a new one. */
  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session || session.destroyed) return;
    await new Promise<void>((resolve) => session.close(resolve));
  }

  private async getProviderToken(): Promise<string> {
    const cached = this.providerToken;
    if (cached && Date.now() - cached.issuedAt < providerTokenLifetimeMs) return cached.value;
    // Concurrent sends share one signature, so APNs sees one token per renewal.
    this.pendingProviderToken ??= this.signProviderToken().finally(
      () => (this.pendingProviderToken = undefined),
    );
    const fresh = await this.pendingProviderToken;
    this.providerToken = fresh;
    return fresh.value;
  }

  private forgetProviderToken(value: string): void {
    if (this.providerToken?.value === value) this.providerToken = undefined;
  }

  private async signProviderToken(): Promise<ProviderToken> {
    const issuedAt = Date.now();
    const value = await new SignJWT({ iss: this.teamId, iat: Math.floor(issuedAt / 1000) })
      .setProtectedHeader({ alg: 'ES256', kid: this.keyId })
      .sign(this.key);
    return { value, issuedAt };
  }

  /** The open session, or a new one. Listeners drop it from `this.session` as soon as it is unusable. */
  private connection(): ClientHttp2Session {
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = connect(this.origin);
    const forget = () => {
      if (this.session === session) this.session = undefined;
    };
    // Errors also reach the streams on the session, which turn them into outcomes.
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    this.session = session;
    return session;
  }

  private post(path: string, providerToken: string, body: string): Promise<ApnsResponse> {
    return new Promise((resolve, reject) => {
      const stream = this.connection().request({
        ':method': 'POST',
        ':path': path,
        authorization: `bearer ${providerToken}`,
        'apns-topic': this.topic,
        'apns-push-type': 'background',
        // Background notifications must use priority 5.
        'apns-priority': '5',
        'content-type': 'application/json',
      });
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        const error = new Error('APNs request timed out');
        error.name = 'TimeoutError';
        reject(error);
      }, this.timeoutMs);
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let size = 0;
      const answer = () => {
        clearTimeout(timer);
        resolve({
          status: Number(headers[':status']),
          headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      };
      stream.on('response', (responseHeaders) => (headers = responseHeaders));
      stream.on('data', (chunk: Buffer) => {
        if (size >= MAX_ANSWER_BYTES) return;
        chunks.push(chunk.subarray(0, MAX_ANSWER_BYTES - size));
        size += chunk.length;
        if (size >= MAX_ANSWER_BYTES) {
          // An APNs answer is a short JSON object: the rest of this one is not read.
          answer();
          stream.close(constants.NGHTTP2_CANCEL);
        }
      });
      stream.on('end', answer);
      stream.on('error', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
      stream.on('close', () => {
        // A stream reset by the server (RST_STREAM without error) ends neither way.
        clearTimeout(timer);
        reject(new Error(`APNs stream closed (code ${stream.rstCode})`));
      });
      stream.end(body);
    });
  }
}

function classify(response: ApnsResponse, reason: string | undefined): SendOutcome {
  const { status } = response;
  if (status === 200) return { kind: 'sent' };
  const described = `APNs ${status}${reason ? ` ${reason}` : ''}`;
  if (status === 410) return { kind: 'gone', reason: described };
  if (status === 400 && (reason === 'BadDeviceToken' || reason === 'DeviceTokenNotForTopic')) {
    return { kind: 'gone', reason: described };
  }
  if (status === 429 || status >= 500 || (status === 403 && reason === 'ExpiredProviderToken')) {
    const retryAfter = response.headers['retry-after'];
    return {
      kind: 'retry',
      reason: described,
      retryAfterMs: parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : retryAfter?.[0]),
    };
  }
  return { kind: 'rejected', reason: described };
}

/** APNs error bodies are {"reason": "...", "timestamp": ...}. */
function reasonOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const reason =
      typeof parsed === 'object' && parsed !== null
        ? (parsed as Record<string, unknown>)['reason']
        : undefined;
    return typeof reason === 'string' ? reason.slice(0, 100) : undefined;
  } catch {
    return undefined;
  }
}

function resolveOrigin(host: string | undefined): string {
  const value = host?.trim() || 'production';
  const known = hosts[value];
  if (known) return known;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PushProviderConfigError(`The APNs host must be production, sandbox or a URL: ${value}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PushProviderConfigError(`The APNs host URL must be https (or http for h2c): ${value}`);
  }
  return url.origin;
}
