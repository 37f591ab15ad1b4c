import { readFile } from 'node:fs/promises';

/**
 * What one attempt to deliver a push through a provider came to. The push worker decides on it:
 * ack on `sent`, back off and retry on `retry`, delete the registration on `gone`, dead-letter on
 * `rejected`. Reasons are safe to log: they never hold a whole device token or a credential.
 */
export type SendOutcome =
  | { kind: 'sent' }
  /** Transient: 5xx, timeouts, 429 (Retry-After honoured), connection errors. */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /** The registration is dead: delete it. */
  | { kind: 'gone'; reason: string }
  /** Permanent failure for this message (bad request etc.). */
  | { kind: 'rejected'; reason: string };

/** What a mobile push carries (PROTOCOL.md §7): the PushType and the payload object. */
export interface MobilePush {
  type: number;
  payload: Record<string, unknown>;
}

/** A provider's credentials or settings are unusable; thrown by the senders' `create`, never by `send`. */
export class PushProviderConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PushProviderConfigError';
  }
}

/**
 * The longest wait a Retry-After can impose (the backoff's own ceiling). Endpoints are not all
 * trusted: a retry held back for days would keep its job pending on the stream and its slot among
 * the consumer's unacknowledged messages.
 */
export const MAX_RETRY_AFTER_MS = 300_000;

/** Parses Retry-After (seconds or HTTP date) to ms, at most MAX_RETRY_AFTER_MS; undefined if absent/invalid. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Math.min(MAX_RETRY_AFTER_MS, Number(text) * 1000);
  const date = Date.parse(text);
  // Only the HTTP date form is valid besides delta-seconds; Date.parse also takes many other shapes.
  if (Number.isNaN(date) || !/GMT$/.test(text)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now));
}

/**
 * The most of a provider's answer that is read: error bodies and token grants are a few hundred
 * bytes; a body past this is not downloaded (whatever it holds, the status still decides).
 */
export const MAX_ANSWER_BYTES = 16 * 1024;

/** @internal Shared by the senders: the first `maxBytes` of a fetch answer as text; the rest is not read. */
export async function readAnswer(response: Response, maxBytes = MAX_ANSWER_BYTES): Promise<string> {
  // Node's fetch streams bytes; its typing says `any`.
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < maxBytes) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks).toString('utf8');
    chunks.push(value.subarray(0, maxBytes - size));
    size += value.length;
  }
  // Cancelling drops the connection instead of draining the rest into it.
  await reader.cancel();
  return Buffer.concat(chunks).toString('utf8');
}

/** The first characters of a device token, enough to correlate in logs without exposing it. */
export function tokenPrefix(token: string): string {
  return token.length <= 8 ? '…' : `${token.slice(0, 8)}…`;
}

/** @internal Shared by the senders: `valueOrPath` itself when it looks like inline content, else the text of the file it names. */
export async function inlineOrFile(
  valueOrPath: string,
  isInline: (value: string) => boolean,
  what: string,
): Promise<string> {
  if (isInline(valueOrPath)) return valueOrPath;
  try {
    return await readFile(valueOrPath.trim(), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    // The value may be a mangled secret rather than a path, so it is not echoed.
    throw new PushProviderConfigError(`${what} is neither inline content nor a readable file (${code})`);
  }
}

/** @internal Shared by the senders: a network failure in a few words (Node's fetch hides the code in `cause`). */
export function describeNetworkError(error: unknown): string {
  // Duck-typed: errors from Node's fetch come from another realm under Jest, so instanceof fails.
  const { name, message, code, cause } = (error ?? {}) as Partial<NodeJS.ErrnoException>;
  if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
  const causeCode = (cause as NodeJS.ErrnoException | undefined)?.code;
  return causeCode ?? code ?? message ?? String(error);
}
