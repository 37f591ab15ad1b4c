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
  const traceId = traceIdOf(incoming) ?? randomHex(16);
  const flags = incoming && traceIdOf(incoming) ? incoming.trim().slice(-2).toLowerCase() : '01';
  return `00-${traceId}-${randomHex(8)}-${flags}`;
}

/**
 * Random bytes from the system's generator, drawn 4 KiB at a time: every event and delivery takes
 * a span id, and one getrandom call per id cost the dispatcher 3 % of its CPU.
 */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

function randomHex(bytes: number): string {
  if (randomOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomOffset = 0;
  }
  const hex = randomPool.toString('hex', randomOffset, randomOffset + bytes);
  randomOffset += bytes;
  return hex;
}
