// Wire numbers from the SignalR hub protocol: renaming is fine, renumbering breaks every peer.
export enum MessageType {
  Invocation = 1,
  StreamItem = 2,
  Completion = 3,
  StreamInvocation = 4,
  CancelInvocation = 5,
  Ping = 6,
  Close = 7,
  Ack = 8,
  Sequence = 9,
}

/** String-to-string map. Parsers treat an empty map as absent and omit it. */
export type MessageHeaders = Record<string, string>;

export interface InvocationMessage {
  type: MessageType.Invocation;
  headers?: MessageHeaders;
  /** Absent for non-blocking invocations (every server-to-client notification). */
  invocationId?: string;
  target: string;
  arguments: unknown[];
  streamIds?: string[];
}

export interface StreamItemMessage {
  type: MessageType.StreamItem;
  headers?: MessageHeaders;
  invocationId: string;
  item: unknown;
}

export interface CompletionMessage {
  type: MessageType.Completion;
  headers?: MessageHeaders;
  invocationId: string;
  error?: string;
  /** Present (even `null`) means "has result"; absent means a void completion. */
  result?: unknown;
}

export interface StreamInvocationMessage {
  type: MessageType.StreamInvocation;
  headers?: MessageHeaders;
  invocationId: string;
  target: string;
  arguments: unknown[];
  streamIds?: string[];
}

export interface CancelInvocationMessage {
  type: MessageType.CancelInvocation;
  headers?: MessageHeaders;
  invocationId: string;
}

export interface PingMessage {
  type: MessageType.Ping;
}

export interface CloseMessage {
  type: MessageType.Close;
  error?: string;
  allowReconnect?: boolean;
}

export interface AckMessage {
  type: MessageType.Ack;
  sequenceId: number;
}

export interface SequenceMessage {
  type: MessageType.Sequence;
  sequenceId: number;
}

export type HubMessage =
  | InvocationMessage
  | StreamItemMessage
  | CompletionMessage
  | StreamInvocationMessage
  | CancelInvocationMessage
  | PingMessage
  | CloseMessage
  | AckMessage
  | SequenceMessage;
