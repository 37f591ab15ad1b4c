import { SignalRProtocolError } from './errors';
import { type HubProtocol } from './hub-protocol';
import {
  ackMessage,
  cancelInvocationMessage,
  closeMessage,
  completionMessage,
  type CompletionOutcome,
  invalid,
  invocationMessage,
  isPlainObject,
  sequenceMessage,
  streamInvocationMessage,
  streamItemMessage,
} from './message-validation';
import { type HubMessage, MessageType } from './messages';
import { decodeJsonText, RECORD_SEPARATOR, splitTextMessages } from './text-message-format';

const PING_MESSAGE_JSON = Buffer.from('{"type":6}\u001e', 'utf8');

/**
 * The JSON hub protocol: each message is a JSON object followed by 0x1E. Field names are wire
 * names shared with every SignalR peer; do not rename them.
 */
export class JsonHubProtocol implements HubProtocol {
  readonly name = 'json';
  readonly transferFormat = 'text';

  parseMessages(data: Uint8Array, maxMessageBytes?: number): HubMessage[] {
    const messages: HubMessage[] = [];
    for (const body of splitTextMessages(data, maxMessageBytes)) {
      const message = parseMessage(decodeJsonText(body, 'message'));
      if (message) messages.push(message);
    }
    return messages;
  }

  writeMessage(message: HubMessage): Buffer {
    if (message.type === MessageType.Ping) return PING_MESSAGE_JSON;
    const text = JSON.stringify(toWireObject(message));
    const length = Buffer.byteLength(text, 'utf8');
    const frame = Buffer.allocUnsafe(length + 1);
    frame.write(text, 0, length, 'utf8');
    frame[length] = RECORD_SEPARATOR;
    return frame;
  }
}

function parseMessage(value: unknown): HubMessage | undefined {
  if (!isPlainObject(value)) throw new SignalRProtocolError('message', 'JSON message must be an object');
  const type = value.type;
  if (typeof type !== 'number' || !Number.isInteger(type)) {
    throw new SignalRProtocolError('message', 'JSON message lacks an integer "type"');
  }
  switch (type as MessageType) {
    case MessageType.Invocation:
      return invocationMessage(invocationFields(value));
    case MessageType.StreamItem:
      // `item` may be null but must be there: a missing item is a truncated message.
      if (!Object.hasOwn(value, 'item')) invalid('StreamItem', 'item is missing');
      return streamItemMessage(value.headers, value.invocationId, value.item);
    case MessageType.Completion:
      return completionMessage(value.headers, value.invocationId, completionOutcome(value));
    case MessageType.StreamInvocation:
      return streamInvocationMessage(invocationFields(value));
    case MessageType.CancelInvocation:
      return cancelInvocationMessage(value.headers, value.invocationId);
    case MessageType.Ping:
      return { type: MessageType.Ping };
    case MessageType.Close:
      return closeMessage(value.error, value.allowReconnect);
    case MessageType.Ack:
      return ackMessage(value.sequenceId);
    case MessageType.Sequence:
      return sequenceMessage(value.sequenceId);
    default:
      // Later protocol versions may add message types; peers must ignore what they do not know.
      return undefined;
  }
}

function invocationFields(value: Record<string, unknown>) {
  return {
    headers: value.headers,
    invocationId: value.invocationId,
    target: value.target,
    arguments: value.arguments,
    streamIds: value.streamIds,
  };
}

function completionOutcome(value: Record<string, unknown>): CompletionOutcome {
  const hasError = value.error !== undefined && value.error !== null;
  // A present `result`, even null, means the invocation returned a value.
  const hasResult = Object.hasOwn(value, 'result');
  if (hasError && hasResult) invalid('Completion', 'error and result are mutually exclusive');
  if (hasError) return { error: value.error };
  return hasResult ? { result: value.result } : undefined;
}

/**
 * The object to serialize, with known fields only. Undefined fields vanish in JSON.stringify,
 * so each case keeps one fixed shape.
 */
function toWireObject(message: Exclude<HubMessage, { type: MessageType.Ping }>): object {
  switch (message.type) {
    case MessageType.Invocation:
      return {
        type: message.type,
        headers: message.headers,
        invocationId: message.invocationId,
        target: message.target,
        arguments: message.arguments,
        streamIds: message.streamIds,
      };
    case MessageType.StreamInvocation:
      return {
        type: message.type,
        headers: message.headers,
        invocationId: message.invocationId,
        target: message.target,
        arguments: message.arguments,
        streamIds: message.streamIds,
      };
    case MessageType.StreamItem:
      return {
        type: message.type,
        headers: message.headers,
        invocationId: message.invocationId,
        item: message.item,
      };
    case MessageType.Completion:
      return message.error !== undefined
        ? {
            type: message.type,
            headers: message.headers,
            invocationId: message.invocationId,
            error: message.error,
          }
        : {
            type: message.type,
            headers: message.headers,
            invocationId: message.invocationId,
            result: message.result,
          };
    case MessageType.CancelInvocation:
      return { type: message.type, headers: message.headers, invocationId: message.invocationId };
    case MessageType.Close:
      return { type: message.type, error: message.error, allowReconnect: message.allowReconnect };
    case MessageType.Ack:
    case MessageType.Sequence:
      return { type: message.type, sequenceId: message.sequenceId };
    default:
      return unknownMessageType(message);
  }
}

function unknownMessageType(message: never): never {
  throw new TypeError(`cannot write message type ${String((message as { type: unknown }).type)}`);
}
