import { asBuffer } from './bytes';
import { SignalRProtocolError } from './errors';
import { decodeJsonText, RECORD_SEPARATOR } from './text-message-format';

export interface HandshakeRequest {
  protocol: string;
  version: number;
}

/**
 * Parses the handshake from the start of `data`. Returns undefined when no record separator has
 * arrived yet (the caller buffers more and enforces its own maximum). Throws
 * SignalRProtocolError('handshake') on bad UTF-8/JSON, a missing or non-string protocol, or a
 * non-integer version. `remaining` is a view of the bytes after the separator (may be empty).
 * Supported protocols and versions are checked by resolveHubProtocol, not here.
 */
export function parseHandshakeRequest(
  data: Uint8Array,
): { request: HandshakeRequest; remaining: Buffer } | undefined {
  const frame = asBuffer(data);
  const end = frame.indexOf(RECORD_SEPARATOR);
  if (end === -1) return undefined;
  const value = decodeJsonText(frame.subarray(0, end), 'handshake');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SignalRProtocolError('handshake', 'handshake request must be a JSON object');
  }
  const { protocol, version } = value as Record<string, unknown>;
  if (typeof protocol !== 'string') {
    throw new SignalRProtocolError('handshake', 'handshake request lacks a string "protocol"');
  }
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    throw new SignalRProtocolError('handshake', 'handshake request lacks an integer "version"');
  }
  return { request: { protocol, version }, remaining: frame.subarray(end + 1) };
}

/** `{}` + separator. The reply must carry no `type` field, or clients take it for a message. */
export const HANDSHAKE_SUCCESS: Buffer = Buffer.from([0x7b, 0x7d, RECORD_SEPARATOR]);

/** `{"error":"..."}` + separator; the caller closes the connection after sending it. */
export function handshakeErrorResponse(message: string): Buffer {
  return Buffer.from(`${JSON.stringify({ error: message })}\u001e`, 'utf8');
}
