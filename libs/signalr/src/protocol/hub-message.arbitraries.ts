// Test support (imported by specs only): fast-check arbitraries for hub messages in their
// canonical form, the form Herald's parsers return (no empty headers, no undefined fields).
import fc from 'fast-check';
import {
  type CloseMessage,
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  MessageType,
  type StreamInvocationMessage,
} from './messages';

/** Printable ASCII (msgpackr's fast path) or any Unicode scalar values, 0x1E included. */
export const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }));
const nonEmptyText = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
);
const mapKey = text.filter((key) => key !== '__proto__');

const leaf = fc.oneof(
  text,
  fc.integer(),
  fc.maxSafeInteger(),
  // -0 reaches both peers as 0 (they write integral numbers as integers).
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => (value === 0 ? 0 : value)),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: true }),
);

/** Nested hub-method argument: strings, numbers, booleans, null, Dates, arrays, string-keyed maps. */
export const argument: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(mapKey, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).value;

const headers = fc.option(fc.dictionary(mapKey, text, { minKeys: 1, maxKeys: 3, noNullPrototype: true }), {
  nil: undefined,
});
const args = fc.array(argument, { maxLength: 4 });
const streamIds = fc.option(fc.array(nonEmptyText, { maxLength: 3 }), { nil: undefined });
const sequenceId = fc.maxSafeNat();

/** Spreads only defined values, so messages never carry `key: undefined`. */
function defined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export const invocation: fc.Arbitrary<InvocationMessage> = fc
  .record({
    headers,
    invocationId: fc.option(nonEmptyText, { nil: undefined }),
    target: nonEmptyText,
    arguments: args,
    streamIds,
  })
  .map((fields) => ({
    type: MessageType.Invocation,
    target: fields.target,
    arguments: fields.arguments,
    ...defined({ headers: fields.headers, invocationId: fields.invocationId, streamIds: fields.streamIds }),
  }));

export const streamInvocation: fc.Arbitrary<StreamInvocationMessage> = fc
  .record({ headers, invocationId: nonEmptyText, target: nonEmptyText, arguments: args, streamIds })
  .map((fields) => ({
    type: MessageType.StreamInvocation,
    invocationId: fields.invocationId,
    target: fields.target,
    arguments: fields.arguments,
    ...defined({ headers: fields.headers, streamIds: fields.streamIds }),
  }));

const completion: fc.Arbitrary<CompletionMessage> = fc
  .record({
    headers,
    invocationId: nonEmptyText,
    outcome: fc.oneof(fc.record({ error: nonEmptyText }), fc.record({ result: argument }), fc.constant({})),
  })
  .map(({ headers: h, invocationId, outcome }) => ({
    type: MessageType.Completion,
    invocationId,
    ...defined({ headers: h }),
    ...outcome,
  }));

const close: fc.Arbitrary<CloseMessage> = fc
  .record({
    error: fc.option(text, { nil: undefined }),
    allowReconnect: fc.option(fc.boolean(), { nil: undefined }),
  })
  .map((fields) => ({ type: MessageType.Close, ...defined(fields) }));

/** Every message type, keyed by name so tests can pick the ones a peer understands. */
export const hubMessages = {
  invocation,
  streamItem: fc
    .record({ headers, invocationId: nonEmptyText, item: argument })
    .map(({ headers: h, invocationId, item }) => ({
      type: MessageType.StreamItem as const,
      invocationId,
      item,
      ...defined({ headers: h }),
    })),
  completion,
  streamInvocation,
  cancelInvocation: fc
    .record({ headers, invocationId: nonEmptyText })
    .map(({ headers: h, invocationId }) => ({
      type: MessageType.CancelInvocation as const,
      invocationId,
      ...defined({ headers: h }),
    })),
  ping: fc.constant({ type: MessageType.Ping as const }),
  close,
  ack: sequenceId.map((id) => ({ type: MessageType.Ack as const, sequenceId: id })),
  sequence: sequenceId.map((id) => ({ type: MessageType.Sequence as const, sequenceId: id })),
} satisfies Record<string, fc.Arbitrary<HubMessage>>;

export const anyHubMessage: fc.Arbitrary<HubMessage> = fc.oneof(...Object.values(hubMessages));

/** The client's MessagePack parser wants an ArrayBuffer holding exactly the frame. */
export function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  const copy = new ArrayBuffer(data.byteLength);
  new Uint8Array(copy).set(data);
  return copy;
}
