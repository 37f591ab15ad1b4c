import { isUtf8 } from 'node:buffer';
import { SignalRProtocolError } from './errors';

/** Deeper nesting than this is refused; SignalR messages from clients are a few levels deep. */
export const MAX_MESSAGEPACK_DEPTH = 64;

const PROTO_KEY = Buffer.from('__proto__', 'utf8');
const TIMESTAMP_EXTENSION = 0xff; // type -1
const MAX_NANOSECONDS = 999_999_999;

function refuse(detail: string): never {
  throw new SignalRProtocolError('message', `invalid MessagePack: ${detail}`);
}

/**
 * Checks, without recursion and in one pass, that `body` is exactly one standard MessagePack
 * value: no reserved 0xC1, no extension other than the timestamp (-1), valid UTF-8 strings,
 * string map keys other than `__proto__`, nesting within MAX_MESSAGEPACK_DEPTH, no trailing bytes.
 * msgpackr also decodes its own extensions (records, structured clones, Set, Error, RegExp,
 * typed arrays, undefined); running it only on checked input keeps those off the wire.
 */
export function assertStandardMessagePack(body: Uint8Array): void {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const end = body.byteLength;
  let offset = 0;
  // Values still to read in the current container (a map counts keys and values).
  let remaining = 1;
  let inMap = false;
  const parents: { remaining: number; inMap: boolean }[] = [];

  const need = (bytes: number): void => {
    if (bytes > end - offset) refuse('truncated');
  };
  const open = (count: number, isMap: boolean): void => {
    const values = isMap ? count * 2 : count;
    // Every value takes at least one byte, so a larger count can only be a lie.
    if (values > end - offset) refuse('container length runs past the end');
    if (values === 0) return;
    if (parents.length >= MAX_MESSAGEPACK_DEPTH) refuse('nesting too deep');
    parents.push({ remaining, inMap });
    remaining = values;
    inMap = isMap;
  };
  const skip = (bytes: number): void => {
    need(bytes);
    offset += bytes;
  };
  const string = (length: number, isKey: boolean): void => {
    need(length);
    const bytes = body.subarray(offset, offset + length);
    if (!isUtf8(bytes)) refuse('string is not valid UTF-8');
    if (isKey && length === PROTO_KEY.length && PROTO_KEY.equals(bytes)) refuse('map key "__proto__"');
    offset += length;
  };
  const extension = (length: number): void => {
    need(1 + length);
    if (body[offset] !== TIMESTAMP_EXTENSION) refuse(`extension type ${view.getInt8(offset)}`);
    const data = offset + 1;
    if (length === 8 && view.getUint32(data) >>> 2 > MAX_NANOSECONDS) refuse('timestamp nanoseconds');
    else if (length === 12 && view.getUint32(data) > MAX_NANOSECONDS) refuse('timestamp nanoseconds');
    else if (length !== 4 && length !== 8 && length !== 12) refuse('timestamp length');
    offset = data + length;
  };

  for (;;) {
    if (remaining === 0) {
      const parent = parents.pop();
      if (!parent) break;
      ({ remaining, inMap } = parent);
      continue;
    }
    // In a map, an even count of values left means the next one is a key.
    const isKey = inMap && remaining % 2 === 0;
    remaining--;
    need(1);
    const token = view.getUint8(offset++);
    if (isKey && !(token >= 0xa0 && token <= 0xbf) && !(token >= 0xd9 && token <= 0xdb)) {
      refuse('map keys must be strings');
    }
    if (token <= 0x7f || token >= 0xe0) continue; // fixint
    if (token <= 0x8f) open(token & 0x0f, true);
    else if (token <= 0x9f) open(token & 0x0f, false);
    else if (token <= 0xbf) string(token & 0x1f, isKey);
    else
      switch (token) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          break;
        case 0xc4: // bin 8/16/32
          need(1);
          skip(view.getUint8(offset++));
          break;
        case 0xc5:
          need(2);
          offset += 2;
          skip(view.getUint16(offset - 2));
          break;
        case 0xc6:
          need(4);
          offset += 4;
          skip(view.getUint32(offset - 4));
          break;
        case 0xc7: // ext 8/16/32
          need(1);
          extension(view.getUint8(offset++));
          break;
        case 0xc8:
          need(2);
          offset += 2;
          extension(view.getUint16(offset - 2));
          break;
        case 0xc9:
          need(4);
          offset += 4;
          extension(view.getUint32(offset - 4));
          break;
        case 0xca: // float 32/64
        case 0xce: // uint 32
        case 0xd2: // int 32
          skip(4);
          break;
        case 0xcb:
        case 0xcf: // uint 64
        case 0xd3: // int 64
          skip(8);
          break;
        case 0xcc: // uint 8
        case 0xd0: // int 8
          skip(1);
          break;
        case 0xcd: // uint 16
        case 0xd1: // int 16
          skip(2);
          break;
        case 0xd4: // fixext 1/2/4/8/16
          extension(1);
          break;
        case 0xd5:
          extension(2);
          break;
        case 0xd6:
          extension(4);
          break;
        case 0xd7:
          extension(8);
          break;
        case 0xd8:
          extension(16);
          break;
        case 0xd9: // str 8/16/32
          need(1);
          string(view.getUint8(offset++), isKey);
          break;
        case 0xda:
          need(2);
          offset += 2;
          string(view.getUint16(offset - 2), isKey);
          break;
        case 0xdb:
          need(4);
          offset += 4;
          string(view.getUint32(offset - 4), isKey);
          break;
        case 0xdc: // array 16/32
          need(2);
          offset += 2;
          open(view.getUint16(offset - 2), false);
          break;
        case 0xdd:
          need(4);
          offset += 4;
          open(view.getUint32(offset - 4), false);
          break;
        case 0xde: // map 16/32
          need(2);
          offset += 2;
          open(view.getUint16(offset - 2), true);
          break;
        case 0xdf:
          need(4);
          offset += 4;
          open(view.getUint32(offset - 4), true);
          break;
        default: // 0xc1 is reserved and never valid
          refuse(`reserved byte 0x${token.toString(16)}`);
      }
  }
  if (offset !== end) refuse('bytes after the message');
}
