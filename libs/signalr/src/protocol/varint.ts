import { asBuffer } from './bytes';
import { SignalRProtocolError } from './errors';

/** The SignalR binary framing caps a length prefix at 5 bytes and a message below 2 GiB. */
export const MAX_VARINT_BYTES = 5;
const MAX_LENGTH = 0x7fffffff;

/** Number of bytes the length prefix of a `length`-byte message takes. */
export function varIntSize(length: number): number {
  let size = 1;
  for (let rest = length >>> 7; rest > 0; rest >>>= 7) size++;
  return size;
}

/** Writes the prefix into `target` at `offset` (7 bits a byte, low group first, high bit = more). */
export function writeVarIntInto(target: Uint8Array, offset: number, length: number): void {
  let rest = length;
  let position = offset;
  while (rest > 0x7f) {
    target[position++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  target[position] = rest;
}

/** The length prefix of a `length`-byte binary message. */
export function writeVarInt(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_LENGTH) {
    throw new RangeError(`VarInt length must be an integer in [0, ${MAX_LENGTH}], got ${length}`);
  }
  const prefix = Buffer.allocUnsafe(varIntSize(length));
  writeVarIntInto(prefix, 0, length);
  return prefix;
}

/**
 * Splits a binary frame into message bodies (views, no copies). Throws
 * SignalRProtocolError('framing') on a truncated VarInt, a VarInt longer than 5 bytes, a length of
 * 2 GiB or more, or a length that runs past the end; 'too-large' when a body exceeds
 * `maxMessageBytes` (checked before the body needs to have arrived).
 */
export function splitBinaryMessages(data: Uint8Array, maxMessageBytes = Infinity): Buffer[] {
  const frame = asBuffer(data);
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset < frame.length) {
    let length = 0;
    let prefixSize = 0;
    let byte: number | undefined;
    do {
      if (prefixSize === MAX_VARINT_BYTES) {
        throw new SignalRProtocolError('framing', 'length prefix is longer than 5 bytes');
      }
      // Past the end of the frame there is no byte: the prefix is cut short.
      byte = frame[offset + prefixSize];
      if (byte === undefined) {
        throw new SignalRProtocolError('framing', 'length prefix is truncated');
      }
      // Multiplication, not shifts: the fifth group would overflow a 32-bit shift.
      length += (byte & 0x7f) * 2 ** (7 * prefixSize);
      prefixSize++;
    } while ((byte & 0x80) !== 0);
    if (length > MAX_LENGTH) {
      throw new SignalRProtocolError('framing', 'messages of 2 GiB or more are not supported');
    }
    if (length > maxMessageBytes) {
      throw new SignalRProtocolError('too-large', `message of ${length} bytes exceeds ${maxMessageBytes}`);
    }
    const start = offset + prefixSize;
    if (start + length > frame.length) {
      throw new SignalRProtocolError('framing', 'message length runs past the end of the frame');
    }
    messages.push(frame.subarray(start, start + length));
    offset = start + length;
  }
  return messages;
}
