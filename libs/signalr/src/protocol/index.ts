export { SignalRProtocolError, type SignalRErrorCode } from './errors';
export {
  HANDSHAKE_SUCCESS,
  handshakeErrorResponse,
  parseHandshakeRequest,
  type HandshakeRequest,
} from './handshake';
export { type HubProtocol } from './hub-protocol';
export { JsonHubProtocol } from './json-hub-protocol';
export { MessagePackHubProtocol, PING_MESSAGE_MSGPACK } from './messagepack-hub-protocol';
export {
  MessageType,
  type AckMessage,
  type CancelInvocationMessage,
  type CloseMessage,
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  type MessageHeaders,
  type PingMessage,
  type SequenceMessage,
  type StreamInvocationMessage,
  type StreamItemMessage,
} from './messages';
export { resolveHubProtocol } from './resolve-hub-protocol';
export { RECORD_SEPARATOR } from './text-message-format';
export { splitBinaryMessages, writeVarInt } from './varint';
