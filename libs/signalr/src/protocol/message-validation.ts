import { SignalRProtocolError } from './errors';
import {
  type AckMessage,
  type CancelInvocationMessage,
  type CloseMessage,
  type CompletionMessage,
  type InvocationMessage,
  type MessageHeaders,
  MessageType,
  type SequenceMessage,
  type StreamInvocationMessage,
  type StreamItemMessage,
} from './messages';

// Shape checks shared by both protocols. Decoders hand over untrusted values; these return fresh
// typed messages holding only the known fields, or throw SignalRProtocolError('message').

export function invalid(kind: string, detail: string): never {
  throw new SignalRProtocolError('message', `${kind} message: ${detail}`);
}

/** A JSON object / MessagePack map: not an array, Date, byte array or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return Object.prototype.toString.call(value) === '[object Object]';
}

export function requireString(value: unknown, kind: string, field: string): string {
  if (typeof value !== 'string') invalid(kind, `${field} must be a string`);
  return value;
}

function optionalString(value: unknown, kind: string, field: string): string | undefined {
  return value === undefined || value === null ? undefined : requireString(value, kind, field);
}

function requireTarget(value: unknown, kind: string): string {
  if (typeof value !== 'string' || value === '') invalid(kind, 'target must be a non-empty string');
  return value;
}

function requireArray(value: unknown, kind: string, field: string): unknown[] {
  if (!Array.isArray(value)) invalid(kind, `${field} must be an array`);
  return value;
}

function optionalStringArray(value: unknown, kind: string, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const array = requireArray(value, kind, field);
  for (const element of array) requireString(element, kind, `${field} element`);
  return array as string[];
}

export function requireInteger(value: unknown, kind: string, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) invalid(kind, `${field} must be an integer`);
  return value;
}

function optionalBoolean(value: unknown, kind: string, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') invalid(kind, `${field} must be a boolean`);
  return value;
}

/** null/undefined/empty map all mean "no headers", which parsers report by omitting the field. */
function optionalHeaders(value: unknown, kind: string): MessageHeaders | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) invalid(kind, 'headers must be a map of strings');
  let empty = true;
  for (const key in value) {
    requireString(value[key], kind, 'header value');
    empty = false;
  }
  return empty ? undefined : (value as MessageHeaders);
}

export interface InvocationFields {
  headers: unknown;
  invocationId: unknown;
  target: unknown;
  arguments: unknown;
  streamIds: unknown;
}

export function invocationMessage(fields: InvocationFields): InvocationMessage {
  const kind = 'Invocation';
  const message: InvocationMessage = {
    type: MessageType.Invocation,
    target: requireTarget(fields.target, kind),
    arguments: requireArray(fields.arguments, kind, 'arguments'),
  };
  const headers = optionalHeaders(fields.headers, kind);
  if (headers) message.headers = headers;
  const invocationId = optionalString(fields.invocationId, kind, 'invocationId');
  if (invocationId !== undefined) message.invocationId = invocationId;
  const streamIds = optionalStringArray(fields.streamIds, kind, 'streamIds');
  if (streamIds) message.streamIds = streamIds;
  return message;
}

export function streamInvocationMessage(fields: InvocationFields): StreamInvocationMessage {
  const kind = 'StreamInvocation';
  const message: StreamInvocationMessage = {
    type: MessageType.StreamInvocation,
    invocationId: requireString(fields.invocationId, kind, 'invocationId'),
    target: requireTarget(fields.target, kind),
    arguments: requireArray(fields.arguments, kind, 'arguments'),
  };
  const headers = optionalHeaders(fields.headers, kind);
  if (headers) message.headers = headers;
  const streamIds = optionalStringArray(fields.streamIds, kind, 'streamIds');
  if (streamIds) message.streamIds = streamIds;
  return message;
}

export function streamItemMessage(headers: unknown, invocationId: unknown, item: unknown): StreamItemMessage {
  const kind = 'StreamItem';
  const message: StreamItemMessage = {
    type: MessageType.StreamItem,
    invocationId: requireString(invocationId, kind, 'invocationId'),
    item,
  };
  const parsedHeaders = optionalHeaders(headers, kind);
  if (parsedHeaders) message.headers = parsedHeaders;
  return message;
}

/** How a completion ended; decoders establish which case applies from their own layout. */
export type CompletionOutcome = { error: unknown } | { result: unknown } | undefined;

export function completionMessage(
  headers: unknown,
  invocationId: unknown,
  outcome: CompletionOutcome,
): CompletionMessage {
  const kind = 'Completion';
  const message: CompletionMessage = {
    type: MessageType.Completion,
    invocationId: requireString(invocationId, kind, 'invocationId'),
  };
  const parsedHeaders = optionalHeaders(headers, kind);
  if (parsedHeaders) message.headers = parsedHeaders;
  if (outcome && 'error' in outcome) message.error = requireString(outcome.error, kind, 'error');
  else if (outcome) message.result = outcome.result;
  return message;
}

export function cancelInvocationMessage(headers: unknown, invocationId: unknown): CancelInvocationMessage {
  const kind = 'CancelInvocation';
  const message: CancelInvocationMessage = {
    type: MessageType.CancelInvocation,
    invocationId: requireString(invocationId, kind, 'invocationId'),
  };
  const parsedHeaders = optionalHeaders(headers, kind);
  if (parsedHeaders) message.headers = parsedHeaders;
  return message;
}

export function closeMessage(error: unknown, allowReconnect: unknown): CloseMessage {
  const message: CloseMessage = { type: MessageType.Close };
  const parsedError = optionalString(error, 'Close', 'error');
  if (parsedError !== undefined) message.error = parsedError;
  const parsedAllowReconnect = optionalBoolean(allowReconnect, 'Close', 'allowReconnect');
  if (parsedAllowReconnect !== undefined) message.allowReconnect = parsedAllowReconnect;
  return message;
}

export function ackMessage(sequenceId: unknown): AckMessage {
  return { type: MessageType.Ack, sequenceId: requireInteger(sequenceId, 'Ack', 'sequenceId') };
}

export function sequenceMessage(sequenceId: unknown): SequenceMessage {
  return { type: MessageType.Sequence, sequenceId: requireInteger(sequenceId, 'Sequence', 'sequenceId') };
}
