import { createECDH, generateKeyPairSync } from 'node:crypto';
import { Agent as HttpAgent, type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

import { generateRequestDetails, type RequestDetails } from 'web-push';

import {
  describeNetworkError,
  parseRetryAfter,
  PushProviderConfigError,
  type SendOutcome,
} from './send-outcome';
import { EndpointRefusedError, WebPushEndpointPolicy } from './webpush-endpoint';

export interface WebPushOptions {
  /** Unpadded base64url of the 65-byte uncompressed P-256 point (what `/api/config` advertises). */
  vapidPublicKey: string;
  /** Unpadded base64url of the 32-byte P-256 private scalar. */
  vapidPrivateKey: string;
  /** VAPID `sub` claim: a `mailto:` address or an `https:` URL where the operator can be reached. */
  subject: string;
  /** Whole-request deadline (connect, upload, response). Default 10 s. */
  timeoutMs?: number;
  /** Where pushes may go (HERALD_WEBPUSH_ALLOWED_HOSTS); by default public https endpoints only. */
  endpoints?: WebPushEndpointPolicy;
}

/** A browser's PushSubscription as the extension registers it (`/devices/identifier/{id}/web-push-auth`). */
export interface WebPushTarget {
  endpoint: string;
  /** Unpadded base64url of the user agent's P-256 public key. */
  p256dh: string;
  /** Unpadded base64url of the 16-byte authentication secret. */
  auth: string;
}

export interface WebPushMessage {
  type: number;
  payload: Record<string, unknown>;
  contextId: string | null;
}

/**
 * RFC 8030 §5.2. A day: every push is a "sync now" hint, harmless when late and idempotent, while a
 * dropped one leaves the extension stale until its next full sync.
 */
const TIME_TO_LIVE_SECONDS = 86_400;
/**
 * RFC 8030 §5.3. `high` because pushes are few per user and some are interactive (a login approval
 * request expires in minutes); push services may hold `normal` messages back to save battery, which
 * matters on mobile and costs nothing to skip for a desktop browser extension.
 */
const URGENCY = 'high';
const DEFAULT_TIMEOUT_MS = 10_000;
/** RFC 8030 §7.2 guarantees 4096 bytes of encrypted body; services answer 413 above that. */
const MAX_BODY_BYTES = 4096;
/** What is read of an answer: enough for the error text of any push service; the rest is not downloaded. */
const MAX_RESPONSE_BYTES = 4096;
/** Idle keep-alive connections to push services are closed after this. */
const IDLE_SOCKET_MS = 30_000;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Sends one Web Push message (RFC 8291 aes128gcm encryption, RFC 8292 VAPID signature). `web-push`
 * builds the encrypted body and the headers; the request itself is made here, through agents whose
 * `lookup` refuses private and other internal addresses (the endpoint is the user's), with a
 * whole-request deadline, no redirects and a capped answer. Never throws for a send: every failure
 * is an outcome (`gone` means: delete this subscription, also for an endpoint that is off limits).
 */
export class WebPushSender {
  private readonly vapidDetails: { subject: string; publicKey: string; privateKey: string };
  private readonly timeoutMs: number;
  private readonly endpoints: WebPushEndpointPolicy;
  private readonly agents: { 'http:': HttpAgent; 'https:': HttpsAgent };

  constructor(options: WebPushOptions) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new PushProviderConfigError(
        `Web Push timeout must be a positive number of milliseconds, got ${timeoutMs}`,
      );
    }
    checkVapidKeys(options.vapidPublicKey, options.vapidPrivateKey);
    this.vapidDetails = {
      subject: checkSubject(options.subject),
      publicKey: options.vapidPublicKey,
      privateKey: options.vapidPrivateKey,
    };
    this.timeoutMs = timeoutMs;
    this.endpoints = options.endpoints ?? new WebPushEndpointPolicy();
    const agentOptions = { keepAlive: true, timeout: IDLE_SOCKET_MS, lookup: this.endpoints.lookup };
    this.agents = { 'http:': new HttpAgent(agentOptions), 'https:': new HttpsAgent(agentOptions) };
  }

  async send(target: WebPushTarget, message: WebPushMessage): Promise<SendOutcome> {
    const url = httpUrl(target.endpoint);
    if (url === undefined) return { kind: 'gone', reason: 'subscription endpoint is not an http(s) URL' };
    const origin = url.origin;
    const refusal = this.endpoints.refusalOfUrl(url);
    if (refusal !== undefined) return { kind: 'gone', reason: `${origin} refused: ${refusal}` };

    // Wire shape read by the extension (`e.data.json().data`): renaming breaks deployed clients.
    const plaintext = JSON.stringify({
      data: { type: message.type, payload: JSON.stringify(message.payload), contextId: message.contextId },
    });

    let request: RequestDetails;
    try {
      request = generateRequestDetails(
        { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } },
        plaintext,
        {
          vapidDetails: this.vapidDetails,
          TTL: TIME_TO_LIVE_SECONDS,
          urgency: URGENCY,
          contentEncoding: 'aes128gcm',
        },
      );
    } catch (error) {
      // The VAPID details were checked at construction: only the subscription's keys can be wrong,
      // and a subscription that cannot be encrypted for will never work.
      return { kind: 'gone', reason: `subscription keys are unusable: ${errorText(error)}` };
    }
    const body = request.body ?? Buffer.alloc(0);
    if (body.length > MAX_BODY_BYTES) {
      return {
        kind: 'rejected',
        reason: `encrypted body is ${body.length} bytes, above the ${MAX_BODY_BYTES} limit`,
      };
    }

    const headers: Record<string, string> = { 'content-length': String(body.length) };
    for (const [name, value] of Object.entries(request.headers)) {
      if (name.toLowerCase() !== 'content-length') headers[name] = String(value);
    }

    try {
      const answer = await this.post(url, headers, body);
      const retryAfter = answer.headers['retry-after'];
      return outcomeOf(
        answer.status,
        typeof retryAfter === 'string' ? retryAfter : null,
        `${origin} answered ${answer.status}${summarise(answer.text)}`,
      );
    } catch (error) {
      // The host resolved to an address a push must not reach (perhaps not at registration): the
      // subscription is unusable, as if the service had said it is gone.
      if (error instanceof EndpointRefusedError)
        return { kind: 'gone', reason: `${origin} refused: ${error.message}` };
      return { kind: 'retry', reason: `${origin} request failed: ${describeNetworkError(error)}` };
    }
  }

  /**
   * One POST, redirects not followed. Settles within the deadline however slowly the service
   * answers; reads at most MAX_RESPONSE_BYTES of the answer and drops the connection past that.
   */
  private post(url: URL, headers: Record<string, string>, body: Buffer): Promise<EndpointAnswer> {
    return new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(url, { method: 'POST', headers, agent: this.agents[url.protocol as 'http:'] });
      const timer = setTimeout(() => {
        const error = new Error(`no complete answer within ${this.timeoutMs} ms`);
        error.name = 'TimeoutError';
        request.destroy(error);
        reject(error);
      }, this.timeoutMs);
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        outcome();
      };
      request.on('error', (error) => settle(() => reject(error)));
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const answer = () => ({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        });
        response.on('data', (chunk: Buffer) => {
          if (size >= MAX_RESPONSE_BYTES) return;
          chunks.push(chunk.subarray(0, MAX_RESPONSE_BYTES - size));
          size += chunk.length;
          if (size >= MAX_RESPONSE_BYTES) {
            // Enough to decide on: the rest is never downloaded, and the connection is not reused.
            response.destroy();
            settle(() => resolve(answer()));
          }
        });
        response.on('end', () => settle(() => resolve(answer())));
        response.on('error', (error) => settle(() => reject(error)));
        // Closed before its end without an error (a settled promise ignores this).
        response.on('close', () => settle(() => reject(new Error('the answer was cut off'))));
      });
      request.end(body);
    });
  }
}

interface EndpointAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The first MAX_RESPONSE_BYTES of the body at most. */
  text: string;
}

/** New VAPID key pair, both unpadded base64url (what Bitwarden's /api/config `push.vapidPublicKey` carries). */
export function generateVapidKeys(): { publicKey: string; privateKey: string } {
  // JWK coordinates are always full width (RFC 7518 §6.2.1), unlike ECDH.getPrivateKey().
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.x === undefined || jwk.y === undefined || jwk.d === undefined) {
    throw new Error('node:crypto exported an EC key without coordinates');
  }
  const point = Buffer.concat([
    Buffer.from([0x04]),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from(jwk.y, 'base64url'),
  ]);
  return { publicKey: point.toString('base64url'), privateKey: jwk.d };
}

function outcomeOf(status: number, retryAfter: string | null, reason: string): SendOutcome {
  if (status >= 200 && status < 300) return { kind: 'sent' };
  if (status === 404 || status === 410) return { kind: 'gone', reason };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs };
  }
  // 400 malformed, 401/403 VAPID refused (for example a key other than the one subscribed with),
  // 413 too large, redirects: sending the same request again cannot succeed.
  return { kind: 'rejected', reason };
}

function checkVapidKeys(publicKey: string, privateKey: string): void {
  const publicBytes = decodeKey(publicKey, 'VAPID public key', 65, 32);
  const privateBytes = decodeKey(privateKey, 'VAPID private key', 32, 65);
  if (publicBytes[0] !== 0x04) {
    throw new PushProviderConfigError(
      'VAPID public key must be an uncompressed P-256 point (first byte 0x04)',
    );
  }
  const ecdh = createECDH('prime256v1');
  try {
    ecdh.setPrivateKey(privateBytes);
  } catch {
    throw new PushProviderConfigError('VAPID private key is not a valid P-256 private key');
  }
  if (!ecdh.getPublicKey().equals(publicBytes)) {
    throw new PushProviderConfigError('VAPID public key does not belong to the VAPID private key');
  }
}

function decodeKey(value: unknown, name: string, length: number, swappedLength: number): Buffer {
  if (typeof value !== 'string' || value === '') throw new PushProviderConfigError(`${name} is missing`);
  if (!BASE64URL.test(value))
    throw new PushProviderConfigError(`${name} must be unpadded base64url (A-Z a-z 0-9 - _)`);
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length !== length) {
    const hint = bytes.length === swappedLength ? ' (are the public and private keys swapped?)' : '';
    throw new PushProviderConfigError(`${name} must decode to ${length} bytes, got ${bytes.length}${hint}`);
  }
  return bytes;
}

function checkSubject(subject: unknown): string {
  if (typeof subject !== 'string' || subject === '')
    throw new PushProviderConfigError('VAPID subject is missing');
  let url: URL;
  try {
    url = new URL(subject);
  } catch {
    throw new PushProviderConfigError(`VAPID subject must be a mailto: or https: URL, got "${subject}"`);
  }
  if (url.protocol !== 'mailto:' && url.protocol !== 'https:') {
    throw new PushProviderConfigError(`VAPID subject must be a mailto: or https: URL, got "${subject}"`);
  }
  // Apple's push service refuses localhost subjects (and web-push would warn on every send).
  if (url.protocol === 'https:' && url.hostname === 'localhost') {
    throw new PushProviderConfigError('VAPID subject must not point at localhost');
  }
  return subject;
}

/** The endpoint as a URL when it is http(s). Only its origin is ever logged: the path is the subscription's secret. */
function httpUrl(endpoint: string): URL | undefined {
  try {
    const url = new URL(endpoint);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function summarise(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return '';
  return `: ${oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
