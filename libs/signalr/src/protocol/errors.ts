/**
 * Why a peer's bytes were refused:
 * - `handshake`: the handshake request is not valid JSON or lacks protocol/version;
 * - `framing`: the transport frame cannot be split into messages (VarInt or record separator);
 * - `message`: a message is not valid MessagePack/JSON/UTF-8 or has the wrong shape;
 * - `too-large`: a single message exceeds the caller's limit.
 */
export type SignalRErrorCode = 'handshake' | 'framing' | 'message' | 'too-large';

/** The only error type the protocol layer throws for bad input, so callers need one catch. */
export class SignalRProtocolError extends Error {
  readonly code: SignalRErrorCode;

  constructor(code: SignalRErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SignalRProtocolError';
    this.code = code;
  }
}
