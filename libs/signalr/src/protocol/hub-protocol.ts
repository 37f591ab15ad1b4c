import { type HubMessage } from './messages';

/**
 * One SignalR hub protocol. Instances are stateless between calls and safe to share between
 * connections (everything is synchronous).
 */
export interface HubProtocol {
  /** The name a client puts in its handshake. */
  readonly name: 'json' | 'messagepack';
  /** WebSocket frame kind: text for JSON, binary for MessagePack. */
  readonly transferFormat: 'text' | 'binary';
  /**
   * Parses every message in one transport frame. Unknown message type numbers are skipped, as the
   * spec asks. Throws SignalRProtocolError on malformed input and nothing else; work is linear in
   * the input. A single message larger than `maxMessageBytes` (body bytes, without its length
   * prefix or separator) => SignalRProtocolError('too-large').
   */
  parseMessages(data: Uint8Array, maxMessageBytes?: number): HubMessage[];
  /**
   * One framed message (MessagePack: VarInt length prefix + array; JSON: text + 0x1E). The result
   * may share memory with other results (and Ping is a shared constant): send it, never mutate it.
   */
  writeMessage(message: HubMessage): Buffer;
}
