import { describe, expect, it } from '@jest/globals';
import { SignalRProtocolError } from './errors';
import { HANDSHAKE_SUCCESS, handshakeErrorResponse, parseHandshakeRequest } from './handshake';

const text = (value: string) => Buffer.from(value, 'utf8');

function handshakeCode(data: Uint8Array): string | undefined {
  try {
    parseHandshakeRequest(data);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SignalRProtocolError);
    return (error as SignalRProtocolError).code;
  }
}

describe('parseHandshakeRequest', () => {
  it('parses the requests real clients send', () => {
    for (const protocol of ['messagepack', 'json']) {
      const parsed = parseHandshakeRequest(text(`{"protocol":"${protocol}","version":1}\u001e`));
      expect(parsed?.request).toEqual({ protocol, version: 1 });
      expect(parsed?.remaining.length).toBe(0);
    }
  });

  it('waits for the separator', () => {
    expect(parseHandshakeRequest(new Uint8Array(0))).toBeUndefined();
    expect(parseHandshakeRequest(text('{"protocol":"json","vers'))).toBeUndefined();
  });

  it('returns the bytes that follow the separator in the same frame', () => {
    const ping = Buffer.from([0x02, 0x91, 0x06]);
    const data = Buffer.concat([text('{"protocol":"messagepack","version":2}\u001e'), ping, ping]);
    const parsed = parseHandshakeRequest(new Uint8Array(data));
    expect(parsed?.request).toEqual({ protocol: 'messagepack', version: 2 });
    expect([...parsed!.remaining]).toEqual([...ping, ...ping]);
  });

  it('ignores unknown fields and does not judge protocol or version support', () => {
    const parsed = parseHandshakeRequest(text('{"version":7,"protocol":"blob","extra":[1]}\u001e'));
    expect(parsed?.request).toEqual({ protocol: 'blob', version: 7 });
  });

  it.each([
    ['empty text', ''],
    ['not JSON', 'hello'],
    ['a JSON array', '["json",1]'],
    ['null', 'null'],
    ['a missing protocol', '{"version":1}'],
    ['a numeric protocol', '{"protocol":1,"version":1}'],
    ['a missing version', '{"protocol":"json"}'],
    ['a string version', '{"protocol":"json","version":"1"}'],
    ['a fractional version', '{"protocol":"json","version":1.5}'],
    ['a __proto__ key', '{"protocol":"json","version":1,"__proto__":{"x":1}}'],
  ])('refuses %s', (_name, body) => {
    expect(handshakeCode(text(`${body}\u001e`))).toBe('handshake');
  });

  it('refuses invalid UTF-8', () => {
    const data = Buffer.concat([
      text('{"protocol":"json'),
      Buffer.from([0xc3, 0x28]),
      text('","version":1}\u001e'),
    ]);
    expect(handshakeCode(data)).toBe('handshake');
  });
});

describe('handshake responses', () => {
  it('answers success with exactly 7B 7D 1E', () => {
    expect(HANDSHAKE_SUCCESS.toString('hex')).toBe('7b7d1e');
  });

  it('answers failure with an error object and no type field', () => {
    const response = handshakeErrorResponse('Requested protocol "xml" is not available.');
    expect(response[response.length - 1]).toBe(0x1e);
    expect(JSON.parse(response.subarray(0, -1).toString('utf8'))).toEqual({
      error: 'Requested protocol "xml" is not available.',
    });
  });
});
