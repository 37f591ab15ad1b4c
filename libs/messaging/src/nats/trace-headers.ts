import { headers, type MsgHdrs } from 'nats';

import { TRACEPARENT } from '@herald/contracts';

/** NATS headers carrying a W3C traceparent, or undefined when there is none. */
export function traceHeaders(traceparent: string | undefined): MsgHdrs | undefined {
  if (!traceparent) return undefined;
  const result = headers();
  result.set(TRACEPARENT, traceparent);
  return result;
}

export function traceparentOf(carrier: { headers?: MsgHdrs }): string | undefined {
  return carrier.headers?.get(TRACEPARENT) || undefined;
}
