import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SignalRProtocolError } from './errors';
import { splitBinaryMessages, writeVarInt } from './varint';

const bytes = (...values: number[]) => Buffer.from(values);

function frame(body: Buffer): Buffer {
  return Buffer.concat([writeVarInt(body.length), body]);
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SignalRProtocolError);
    return (error as SignalRProtocolError).code;
  }
}

describe('writeVarInt', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16_383, 'ff7f'],
    [16_384, '808001'],
    [2_097_152, '80808001'],
    [0x7fffffff, 'ffffffff07'],
  ])('encodes %d as %s', (length, hex) => {
    expect(writeVarInt(length).toString('hex')).toBe(hex);
  });

  it('refuses lengths the framing cannot carry', () => {
    expect(() => writeVarInt(-1)).toThrow(RangeError);
    expect(() => writeVarInt(1.5)).toThrow(RangeError);
    expect(() => writeVarInt(2 ** 31)).toThrow(RangeError);
  });
});

describe('splitBinaryMessages', () => {
  it('returns nothing for an empty frame', () => {
    expect(splitBinaryMessages(new Uint8Array(0))).toEqual([]);
  });

  it('splits several messages sharing a frame, including empty bodies', () => {
    const data = Buffer.concat([
      frame(bytes(0x91, 0x06)),
      frame(Buffer.alloc(0)),
      frame(Buffer.alloc(200, 7)),
    ]);
    const parts = splitBinaryMessages(data);
    expect(parts.map((part) => part.length)).toEqual([2, 0, 200]);
    expect(parts[0]).toEqual(bytes(0x91, 0x06));
    expect(parts[2]).toEqual(Buffer.alloc(200, 7));
  });

  it('reads a plain Uint8Array at a non-zero offset without copying', () => {
    const backing = new Uint8Array([0xaa, 0x02, 0x91, 0x06, 0xbb]);
    const parts = splitBinaryMessages(backing.subarray(1, 4));
    expect([...parts[0]!]).toEqual([0x91, 0x06]);
    expect(parts[0]!.buffer).toBe(backing.buffer);
  });

  it('round-trips arbitrary bodies', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 6 }), (bodies) => {
        const data = Buffer.concat(bodies.map((body) => frame(Buffer.from(body))));
        expect(splitBinaryMessages(data).map((part) => [...part])).toEqual(bodies.map((body) => [...body]));
      }),
    );
  });

  it.each([
    ['a truncated prefix', bytes(0x80)],
    ['a prefix truncated after a complete message', bytes(0x01, 0x00, 0xff, 0xff)],
    ['a prefix longer than 5 bytes', bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)],
    ['a length of 2 GiB', bytes(0x80, 0x80, 0x80, 0x80, 0x08)],
    ['a length running past the end', bytes(0x05, 0x91, 0x06)],
    ['a huge length running past the end', bytes(0xff, 0xff, 0xff, 0xff, 0x07, 0x00)],
  ])('refuses %s as framing', (_name, data) => {
    expect(codeOf(() => splitBinaryMessages(data))).toBe('framing');
  });

  it('enforces maxMessageBytes on the declared length, before the body arrives', () => {
    expect(codeOf(() => splitBinaryMessages(frame(Buffer.alloc(10)), 10))).toBeUndefined();
    expect(codeOf(() => splitBinaryMessages(frame(Buffer.alloc(11)), 10))).toBe('too-large');
    expect(codeOf(() => splitBinaryMessages(bytes(0xff, 0xff, 0x03), 2048))).toBe('too-large');
  });
});
