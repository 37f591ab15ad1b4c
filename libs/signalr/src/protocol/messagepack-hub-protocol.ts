import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import { SignalRProtocolError } from './errors';
import { type HubProtocol } from './hub-protocol';
import { assertStandardMessagePack } from './messagepack-guard';
import {
  ackMessage,
  cancelInvocationMessage,
  closeMessage,
  completionMessage,
  type CompletionOutcome,
  invalid,
  invocationMessage,
  isPlainObject,
  requireInteger,
  sequenceMessage,
  streamInvocationMessage,
  streamItemMessage,
} from './message-validation';
import { type HubMessage, MessageType } from './messages';
import { MAX_VARINT_BYTES, splitBinaryMessages, varIntSize, writeVarIntInto } from './varint';

/** `[6]` with its length prefix: the most frequent message, so it is written once. */
export const PING_MESSAGE_MSGPACK: Buffer = Buffer.from([0x02, 0x91, MessageType.Ping]);

// Completion result kinds (wire values).
const ERROR_RESULT = 1;
const VOID_RESULT = 2;
const NON_VOID_RESULT = 3;

const NO_HEADERS = Object.freeze({});

/**
 * The MessagePack hub protocol: each message is a VarInt length followed by one MessagePack
 * array. Output is standard MessagePack only (str for strings, nil for undefined, timestamp -1
 * for Dates); input must be standard MessagePack too (see assertStandardMessagePack).
 */
export class MessagePackHubProtocol implements HubProtocol {
  readonly name = 'messagepack';
  readonly transferFormat = 'binary';

  // One Packr per protocol instance: it owns the buffer every message is packed into.
  private readonly packr = new Packr({
    useRecords: false, // records are a msgpackr extension no SignalR peer understands
    variableMapSize: true, // smallest map header, e.g. 0x80 for {}
    moreTypes: false,
    structuredClone: false,
    encodeUndefinedAsNil: true, // msgpackr would otherwise write fixext 0
    mapsAsObjects: true,
    int64AsType: 'number',
    copyBuffers: true, // decoded bin values must not pin the caller's frame
  });

  parseMessages(data: Uint8Array, maxMessageBytes?: number): HubMessage[] {
    const messages: HubMessage[] = [];
    for (const body of splitBinaryMessages(data, maxMessageBytes)) {
      const message = parseMessage(this.decode(body));
      if (message) messages.push(message);
    }
    return messages;
  }

  writeMessage(message: HubMessage): Buffer {
    if (message.type === MessageType.Ping) return PING_MESSAGE_MSGPACK;
    // Pack behind room for the longest prefix, then put the prefix right before the body: the
    // message is framed in place in msgpackr's buffer, without a copy.
    const packed = this.packr.pack(toWireArray(message), RESERVE_START_SPACE | MAX_VARINT_BYTES);
    const length = packed.length - MAX_VARINT_BYTES;
    const start = MAX_VARINT_BYTES - varIntSize(length);
    writeVarIntInto(packed, start, length);
    return packed.subarray(start);
  }

  private decode(body: Buffer): unknown {
    if (body.length === 0) throw new SignalRProtocolError('message', 'empty MessagePack message');
    assertStandardMessagePack(body);
    try {
      return this.packr.unpack(body) as unknown;
    } catch (error) {
      throw new SignalRProtocolError('message', 'invalid MessagePack', { cause: error });
    }
  }
}

function parseMessage(value: unknown): HubMessage | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    throw new SignalRProtocolError('message', 'MessagePack message must be a non-empty array');
  }
  // Later versions may append elements, so only minimum lengths are checked.
  const array = value as unknown[];
  const type = requireInteger(array[0], 'MessagePack', 'message type');
  switch (type as MessageType) {
    case MessageType.Invocation:
      minimumLength(array, 5, 'Invocation');
      return invocationMessage(invocationFields(array));
    case MessageType.StreamItem:
      minimumLength(array, 4, 'StreamItem');
      return streamItemMessage(requireMap(array[1], 'StreamItem'), array[2], array[3]);
    case MessageType.Completion:
      minimumLength(array, 4, 'Completion');
      return completionMessage(requireMap(array[1], 'Completion'), array[2], completionOutcome(array));
    case MessageType.StreamInvocation:
      minimumLength(array, 5, 'StreamInvocation');
      return streamInvocationMessage(invocationFields(array));
    case MessageType.CancelInvocation:
      minimumLength(array, 3, 'CancelInvocation');
      return cancelInvocationMessage(requireMap(array[1], 'CancelInvocation'), array[2]);
    case MessageType.Ping:
      return { type: MessageType.Ping };
    case MessageType.Close:
      minimumLength(array, 2, 'Close');
      return closeMessage(array[1], array[2]);
    case MessageType.Ack:
      minimumLength(array, 2, 'Ack');
      return ackMessage(array[1]);
    case MessageType.Sequence:
      minimumLength(array, 2, 'Sequence');
      return sequenceMessage(array[1]);
    default:
      // Later protocol versions may add message types; peers must ignore what they do not know.
      return undefined;
  }
}

function minimumLength(array: unknown[], length: number, kind: string): void {
  if (array.length < length) invalid(kind, `needs at least ${length} elements`);
}

/** Unlike JSON, the headers element is always there and must be a map (possibly empty). */
function requireMap(value: unknown, kind: string): Record<string, unknown> {
  if (!isPlainObject(value)) invalid(kind, 'headers must be a map');
  return value;
}

function invocationFields(array: unknown[]) {
  const kind = array[0] === MessageType.Invocation ? 'Invocation' : 'StreamInvocation';
  return {
    headers: requireMap(array[1], kind),
    invocationId: array[2],
    target: array[3],
    arguments: array[4],
    streamIds: array[5],
  };
}

function completionOutcome(array: unknown[]): CompletionOutcome {
  switch (array[3]) {
    case ERROR_RESULT:
      minimumLength(array, 5, 'Completion');
      return { error: array[4] };
    case VOID_RESULT:
      return undefined;
    case NON_VOID_RESULT:
      minimumLength(array, 5, 'Completion');
      return { result: array[4] };
    default:
      return invalid('Completion', 'result kind must be 1, 2 or 3');
  }
}

function toWireArray(message: Exclude<HubMessage, { type: MessageType.Ping }>): unknown[] {
  switch (message.type) {
    case MessageType.Invocation:
    case MessageType.StreamInvocation: {
      const headers = message.headers ?? NO_HEADERS;
      const invocationId = message.invocationId ?? null;
      // streamIds is only written when present, as the official peers do.
      return message.streamIds
        ? [message.type, headers, invocationId, message.target, message.arguments, message.streamIds]
        : [message.type, headers, invocationId, message.target, message.arguments];
    }
    case MessageType.StreamItem:
      return [message.type, message.headers ?? NO_HEADERS, message.invocationId, message.item];
    case MessageType.Completion: {
      const headers = message.headers ?? NO_HEADERS;
      if (message.error !== undefined) {
        return [message.type, headers, message.invocationId, ERROR_RESULT, message.error];
      }
      return message.result === undefined
        ? [message.type, headers, message.invocationId, VOID_RESULT]
        : [message.type, headers, message.invocationId, NON_VOID_RESULT, message.result];
    }
    case MessageType.CancelInvocation:
      return [message.type, message.headers ?? NO_HEADERS, message.invocationId];
    case MessageType.Close:
      // allowReconnect is an optional trailing element; the client reads it only when present.
      return message.allowReconnect === undefined
        ? [message.type, message.error ?? null]
        : [message.type, message.error ?? null, message.allowReconnect];
    case MessageType.Ack:
    case MessageType.Sequence:
      return [message.type, message.sequenceId];
    default:
      return unknownMessageType(message);
  }
}

function unknownMessageType(message: never): never {
  throw new TypeError(`cannot write message type ${String((message as { type: unknown }).type)}`);
}
