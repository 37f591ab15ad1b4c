import { describe, expect, it } from '@jest/globals';
import { extractAccessToken, redactUrl } from './access-token';

describe('extractAccessToken', () => {
  it('reads a bearer header', () => {
    expect(extractAccessToken({ authorization: 'Bearer abc.def.ghi' }, '/hub')).toBe('abc.def.ghi');
  });

  it('accepts any case of the scheme and of the header name', () => {
    expect(extractAccessToken({ Authorization: 'bearer abc.def.ghi' }, '/hub')).toBe('abc.def.ghi');
    expect(extractAccessToken({ AUTHORIZATION: 'BEARER  abc.def.ghi ' }, '/hub')).toBe('abc.def.ghi');
  });

  it('prefers the header over the query parameter', () => {
    expect(extractAccessToken({ authorization: 'Bearer from-header' }, '/hub?access_token=from-query')).toBe(
      'from-header',
    );
  });

  it('falls back to the query when the header is not a bearer token', () => {
    expect(extractAccessToken({ authorization: 'Basic dXNlcjpwYXNz' }, '/hub?access_token=from-query')).toBe(
      'from-query',
    );
    expect(extractAccessToken({ authorization: 'Bearer' }, '/hub?access_token=from-query')).toBe(
      'from-query',
    );
  });

  it('takes the first bearer value of a repeated header', () => {
    expect(extractAccessToken({ authorization: ['Basic x', 'Bearer second'] }, '/hub')).toBe('second');
  });

  it('reads access_token among other query parameters, in paths and absolute URLs', () => {
    expect(extractAccessToken({}, '/notifications/hub?id=1&access_token=abc.def.ghi&x=y')).toBe(
      'abc.def.ghi',
    );
    expect(
      extractAccessToken({}, 'wss://vault.example/notifications/hub?access_token=abc.def.ghi#frag'),
    ).toBe('abc.def.ghi');
  });

  it('percent-decodes the query value', () => {
    expect(extractAccessToken({}, '/hub?access_token=abc%2Edef%2Eghi')).toBe('abc.def.ghi');
  });

  it('matches the query key exactly, as SignalR clients send it', () => {
    expect(extractAccessToken({}, '/hub?Access_Token=abc')).toBeUndefined();
  });

  it('returns undefined when there is no token', () => {
    expect(extractAccessToken({}, '/hub')).toBeUndefined();
    expect(extractAccessToken({ authorization: undefined }, '/hub?access_token=')).toBeUndefined();
    expect(extractAccessToken({ cookie: 'Bearer nope' }, '/hub?other=1')).toBeUndefined();
  });
});

describe('redactUrl', () => {
  it('replaces the token and keeps everything else byte for byte', () => {
    expect(redactUrl('/notifications/hub?id=a%20b&access_token=abc.def.ghi&x=1+2')).toBe(
      '/notifications/hub?id=a%20b&access_token=[REDACTED]&x=1+2',
    );
  });

  it('redacts absolute URLs and keeps the fragment', () => {
    expect(redactUrl('wss://vault.example/hub?access_token=abc#top')).toBe(
      'wss://vault.example/hub?access_token=[REDACTED]#top',
    );
  });

  it('redacts encoded values and encoded or differently cased keys', () => {
    expect(redactUrl('/hub?access_token=abc%2Edef')).toBe('/hub?access_token=[REDACTED]');
    expect(redactUrl('/hub?access%5Ftoken=abc')).toBe('/hub?access%5Ftoken=[REDACTED]');
    expect(redactUrl('/hub?ACCESS_TOKEN=abc')).toBe('/hub?ACCESS_TOKEN=[REDACTED]');
  });

  it('redacts every occurrence', () => {
    expect(redactUrl('/hub?access_token=a&access_token=b')).toBe(
      '/hub?access_token=[REDACTED]&access_token=[REDACTED]',
    );
  });

  it('leaves other keys alone, including the anonymous hub Token', () => {
    expect(redactUrl('/anonymous-hub?Token=0f8e2b1c')).toBe('/anonymous-hub?Token=0f8e2b1c');
    expect(redactUrl('/hub?my_access_token=x')).toBe('/hub?my_access_token=x');
    expect(redactUrl('/hub')).toBe('/hub');
  });

  it('survives malformed percent-encoding', () => {
    expect(redactUrl('/hub?%E0%A4%A=1&access_token=x')).toBe('/hub?%E0%A4%A=1&access_token=[REDACTED]');
  });
});
