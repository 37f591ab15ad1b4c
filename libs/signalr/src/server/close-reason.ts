/**
 * Why a connection closed, as logged and counted. "reconnect" reasons tell the client it may come
 * back at once; "terminal" ones mean it did something wrong. docs/close-reasons.md lists them.
 */
export enum CloseReason {
  // reconnect
  ServerShutdown = 'server-shutdown',
  ClientTimeout = 'client-timeout',
  SlowConsumer = 'slow-consumer',
  Disconnected = 'disconnected',
  // terminal
  HandshakeTimeout = 'handshake-timeout',
  HandshakeFailed = 'handshake-failed',
  FrameTooLarge = 'frame-too-large',
  MessageTooLarge = 'message-too-large',
  ProtocolViolation = 'protocol-violation',
  // by the client or the network
  ClientClosed = 'client-closed',
  ConnectionLost = 'connection-lost',
  TransportError = 'transport-error',
}
