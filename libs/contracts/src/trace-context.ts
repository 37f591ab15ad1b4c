import { randomBytes } from 'node:crypto';

/** W3C Trace Context header name, as carried by HTTP requests and NATS messages. WIRE NAME. */
export const TRACEPARENT = 'traceparent';

const FORMAT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The trace id of a valid `traceparent`, or undefined. */
export function traceIdOf(traceparent: string | null | undefined): string | undefined {
  const match = traceparent ? FORMAT.exec(traceparent.trim().toLowerCase()) : null;
  if (!match) return undefined;
  const [, traceId, spanId] = match;
  if (traceId === undefined || spanId === undefined) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return traceId;
}

/**
 * The `traceparent` for the next hop: the same trace with a new span id, or a new trace when the
 * incoming value is missing or malformed.
 */
export function nextTraceparent(incoming?: string | null): string {
  const traceId = traceIdOf(incoming) ?? randomBytes(16).toString('hex');
  const flags = incoming && traceIdOf(incoming) ? incoming.trim().slice(-2).toLowerCase() : '01';
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
}
