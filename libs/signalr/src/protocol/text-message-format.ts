import { TextDecoder } from 'node:util';
import { asBuffer } from './bytes';
import { type SignalRErrorCode, SignalRProtocolError } from './errors';

/** Ends every JSON message and the handshake. It cannot occur unescaped inside JSON text. */
export const RECORD_SEPARATOR = 0x1e;

// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: keep a BOM so JSON.parse refuses it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Splits a text frame into message bodies (without separators). Every message must be
 * terminated, so a frame that does not end with the separator is a framing error.
 */
export function splitTextMessages(data: Uint8Array, maxMessageBytes = Infinity): Buffer[] {
  const frame = asBuffer(data);
  if (frame.length === 0) return [];
  if (frame[frame.length - 1] !== RECORD_SEPARATOR) {
    throw new SignalRProtocolError('framing', 'text frame does not end with the record separator');
  }
  const messages: Buffer[] = [];
  let start = 0;
  while (start < frame.length) {
    const end = frame.indexOf(RECORD_SEPARATOR, start);
    if (end - start > maxMessageBytes) {
      throw new SignalRProtocolError(
        'too-large',
        `message of ${end - start} bytes exceeds ${maxMessageBytes}`,
      );
    }
    messages.push(frame.subarray(start, end));
    start = end + 1;
  }
  return messages;
}

/** Strict UTF-8 + JSON decoding; refuses `__proto__` keys so no consumer can be tricked later. */
export function decodeJsonText(bytes: Uint8Array, code: SignalRErrorCode): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (error) {
    throw new SignalRProtocolError(code, 'text is not valid UTF-8', { cause: error });
  }
  try {
    return JSON.parse(text, refuseProtoKeys);
  } catch (error) {
    if (error instanceof SignalRProtocolError) throw new SignalRProtocolError(code, error.message);
    throw new SignalRProtocolError(code, 'text is not valid JSON', { cause: error });
  }
}

function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SignalRProtocolError('message', 'JSON key "__proto__" is not allowed');
  return value;
}
