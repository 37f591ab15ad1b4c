import { describe, expect, it } from '@jest/globals';
import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { SignalRProtocolError } from './errors';
import { argument } from './hub-message.arbitraries';
import { assertStandardMessagePack, MAX_MESSAGEPACK_DEPTH } from './messagepack-guard';

const fromHex = (hex: string) => Buffer.from(hex.replace(/ /g, ''), 'hex');
const ascii = (value: string) => Buffer.from(value, 'utf8').toString('hex');

function refusal(data: Uint8Array): string | undefined {
  try {
    assertStandardMessagePack(data);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SignalRProtocolError);
    expect((error as SignalRProtocolError).code).toBe('message');
    return (error as SignalRProtocolError).message;
  }
}

describe('assertStandardMessagePack', () => {
  it('accepts any value the official client encoder writes', () => {
    const encoder = new Encoder();
    fc.assert(
      fc.property(argument, (value) => {
        expect(refusal(encoder.encode([1, {}, null, 'T', [value]]))).toBeUndefined();
      }),
    );
  });

  it.each([
    [
      'every scalar form',
      '9e 00 7f e0 ff cc01 cd0001 ce00000001 cf0000000000000001 d0ff d1ffff d2ffffffff d3ffffffffffffffff ca3f800000 cb3ff0000000000000',
    ],
    ['nil and booleans', '93 c0 c2 c3'],
    ['all string and bin sizes', `96 a0 d90161 da000161 db0000000161 c40101 c6000000020102`],
    ['16- and 32-bit containers', `94 dc0001c0 dd00000000 de0001a161c0 df00000000`],
    [
      'timestamps of 4, 8 and 12 bytes',
      '93 d6ff00000000 d7ff0000000000000000 c70cff00000000ffffffffffffffff',
    ],
    [`nesting ${MAX_MESSAGEPACK_DEPTH} deep`, `${'91'.repeat(MAX_MESSAGEPACK_DEPTH)}c0`],
  ])('accepts %s', (_name, hex) => {
    expect(refusal(fromHex(hex))).toBeUndefined();
  });

  it.each([
    ['the reserved byte 0xc1', 'c1'],
    ['msgpackr undefined (fixext 0)', '91 d40000'],
    ['msgpackr record definitions', 'd47240 91a161 01'],
    ['msgpackr Set', 'd47300 90'],
    ['msgpackr structured-clone pointers', 'd67000000000'],
    ['another extension type', 'd60500000000'],
    ['a timestamp of 2 bytes', 'd5ff0000'],
    ['a timestamp of 16 bytes', `d8ff${'00'.repeat(16)}`],
    ['a timestamp in ext 8 with 5 bytes', 'c705ff0000000000'],
    ['a 64-bit timestamp with a billion nanoseconds', 'd7ffee6b280000000000'],
    ['a 96-bit timestamp with a billion nanoseconds', `c70cff3b9aca00${'00'.repeat(8)}`],
    ['an integer map key', '81 01 02'],
    ['a nil map key', '81 c0 01'],
    ['an array map key', '81 90 01'],
    ['a "__proto__" key', `81 a9${ascii('__proto__')} 80`],
    ['a "__proto__" key as str 8', `81 d909${ascii('__proto__')} 80`],
    ['invalid UTF-8', 'a1ff'],
    ['an overlong UTF-8 encoding', 'a2c080'],
    ['an encoded surrogate', 'a3eda080'],
    [`nesting ${MAX_MESSAGEPACK_DEPTH + 1} deep`, `${'91'.repeat(MAX_MESSAGEPACK_DEPTH + 1)}c0`],
    ['bytes after the value', '9106 06'],
    ['nothing', ''],
    ['a truncated string', 'a36162'],
    ['a truncated float', 'cb00'],
    ['a truncated array header', 'dc00'],
    ['a missing array element', '9201'],
    ['a 4-billion-element array', 'ddffffffff'],
    ['a 4-billion-entry map', 'dfffffffff'],
    ['a truncated ext length', 'c9ff'],
    ['a truncated bin', 'c5ffff00'],
  ])('refuses %s', (_name, hex) => {
    expect(refusal(fromHex(hex))).toBeDefined();
  });

  it('refuses what msgpackr writes with its default options', () => {
    expect(refusal(new Packr().pack([{ a: 1 }, { a: 2 }]))).toBeDefined();
  });

  it('does not recurse, so absurd nesting fails fast', () => {
    expect(refusal(Buffer.alloc(1_000_000, 0x91))).toMatch(/nesting too deep/);
  });
});
