import { describe, expect, it } from '@jest/globals';

import { nextTraceparent, traceIdOf } from './trace-context';

describe('trace context', () => {
  const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('keeps the trace and makes a new span for the next hop', () => {
    const next = nextTraceparent(incoming);
    expect(traceIdOf(next)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(next).not.toBe(incoming);
    expect(next).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  });

  it('starts a new trace for a missing or malformed header', () => {
    for (const value of [
      undefined,
      null,
      '',
      'garbage',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    ]) {
      const next = nextTraceparent(value);
      expect(traceIdOf(next)).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('never hands out the same ids twice, across many refills of its random pool', () => {
    const spans = new Set<string>();
    const traces = new Set<string>();
    for (let index = 0; index < 3000; index += 1) {
      spans.add(nextTraceparent(incoming).split('-')[2]!);
      traces.add(traceIdOf(nextTraceparent())!);
    }
    expect(spans.size).toBe(3000);
    expect(traces.size).toBe(3000);
  });
});
