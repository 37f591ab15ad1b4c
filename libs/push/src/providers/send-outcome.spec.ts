import { describe, expect, it } from '@jest/globals';

import { parseRetryAfter, tokenPrefix } from './send-outcome';

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
  });

  it('caps what it asks for at 5 minutes, in either form', () => {
    expect(parseRetryAfter('300', now)).toBe(300_000);
    expect(parseRetryAfter('301', now)).toBe(300_000);
    expect(parseRetryAfter('99999999999999999999999', now)).toBe(300_000);
    expect(parseRetryAfter('Wed, 01 May 2024 12:05:00 GMT', now)).toBe(300_000);
    expect(parseRetryAfter('Wed, 01 May 2024 12:05:01 GMT', now)).toBe(300_000);
    expect(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', now)).toBe(300_000);
  });

  it('ignores what is absent or not a valid value', () => {
    for (const value of [undefined, null, '', '   ', '-5', '1.5', 'soon', '2024-05-01']) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });
});

describe('tokenPrefix', () => {
  it('keeps only the first characters of a token', () => {
    expect(tokenPrefix('0123456789abcdef')).toBe('01234567…');
    expect(tokenPrefix('short')).toBe('…');
  });
});
