import { TRACEPARENT } from '@herald/contracts';

/** The header a message's W3C trace context travels in (the same name NATS uses). */
export const TRACEPARENT_HEADER = TRACEPARENT;

export function traceHeaders(traceparent: string | undefined): Record<string, string> {
  return traceparent ? { [TRACEPARENT_HEADER]: traceparent } : {};
}
