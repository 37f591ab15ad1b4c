// Property tests against the official client libraries, used as the oracle for both protocols
// and both directions.
import { describe, expect, it } from '@jest/globals';
import {
  type HubMessage as ClientHubMessage,
  JsonHubProtocol as ClientJson,
  MessageType as ClientMessageType,
  NullLogger,
} from '@microsoft/signalr';
import { MessagePackHubProtocol as ClientMsgPack } from '@microsoft/signalr-protocol-msgpack';
import fc from 'fast-check';
import { anyHubMessage, hubMessages, toArrayBuffer } from './hub-message.arbitraries';
import { JsonHubProtocol } from './json-hub-protocol';
import { MessagePackHubProtocol } from './messagepack-hub-protocol';
import { type HubMessage, MessageType } from './messages';

const json = new JsonHubProtocol();
const msgpack = new MessagePackHubProtocol();
const clientJson = new ClientJson();
const clientMsgPack = new ClientMsgPack();

const asClient = (message: HubMessage) => message as unknown as ClientHubMessage;

/** What a JSON peer sees: Dates become ISO strings, undefined fields vanish. */
const jsonView = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** Messages the clients parse (they never receive StreamInvocation or CancelInvocation). */
const clientReadable = fc.oneof(
  hubMessages.invocation,
  hubMessages.streamItem,
  hubMessages.completion,
  hubMessages.ping,
  hubMessages.close,
  hubMessages.ack,
  hubMessages.sequence,
);

/**
 * The client's MessagePack parser always reports `headers: {}` (or the map), `streamIds: []`
 * (it ignores the element) and `error: null` for a Close without error; map those to the
 * canonical form.
 */
function canonicalClientMessage(message: ClientHubMessage): unknown {
  const copy: Record<string, unknown> = { ...message };
  if (copy.headers && Object.keys(copy.headers).length === 0) delete copy.headers;
  if (copy.type === ClientMessageType.Invocation) delete copy.streamIds;
  if (copy.type === ClientMessageType.Close && copy.error === null) delete copy.error;
  for (const key of Object.keys(copy)) if (copy[key] === undefined) delete copy[key];
  return copy;
}

/** What Herald should parse from the client's MessagePack encoding of `message`. */
function expectedFromClientMsgPack(message: HubMessage): HubMessage {
  // The client writes every Close as [7, nil], whatever the message says.
  return message.type === MessageType.Close ? { type: MessageType.Close } : message;
}

describe('JSON protocol against @microsoft/signalr', () => {
  it('parses whatever the client writes, for every message type', () => {
    fc.assert(
      fc.property(anyHubMessage, (message) => {
        const written = clientJson.writeMessage(asClient(message));
        expect(json.parseMessages(Buffer.from(written, 'utf8'))).toStrictEqual([jsonView(message)]);
      }),
    );
  });

  it('writes what the client parses back identically', () => {
    fc.assert(
      fc.property(clientReadable, (message) => {
        const parsed = clientJson.parseMessages(
          json.writeMessage(message).toString('utf8'),
          NullLogger.instance,
        );
        expect(parsed).toStrictEqual([jsonView(message)]);
      }),
    );
  });

  it('writes what the client would write, up to field order', () => {
    fc.assert(
      fc.property(anyHubMessage, (message) => {
        const ours = json.writeMessage(message).toString('utf8');
        const theirs = clientJson.writeMessage(asClient(message));
        expect(jsonView(JSON.parse(ours.slice(0, -1)))).toStrictEqual(JSON.parse(theirs.slice(0, -1)));
        expect(ours.endsWith('\u001e')).toBe(true);
      }),
    );
  });

  it('round-trips its own output', () => {
    fc.assert(
      fc.property(anyHubMessage, (message) => {
        expect(json.parseMessages(json.writeMessage(message))).toStrictEqual([jsonView(message)]);
      }),
    );
  });

  it('parses several messages written into one frame', () => {
    fc.assert(
      fc.property(fc.array(anyHubMessage, { maxLength: 5 }), (messages) => {
        const frame = messages.map((message) => clientJson.writeMessage(asClient(message))).join('');
        expect(json.parseMessages(Buffer.from(frame, 'utf8'))).toStrictEqual(messages.map(jsonView));
      }),
    );
  });
});

describe('MessagePack protocol against @microsoft/signalr-protocol-msgpack', () => {
  it('parses whatever the client writes, for every message type', () => {
    fc.assert(
      fc.property(anyHubMessage, (message) => {
        const written = new Uint8Array(clientMsgPack.writeMessage(asClient(message)));
        expect(msgpack.parseMessages(written)).toStrictEqual([expectedFromClientMsgPack(message)]);
      }),
    );
  });

  it('writes what the client parses back identically', () => {
    fc.assert(
      fc.property(clientReadable, (message) => {
        const parsed = clientMsgPack.parseMessages(
          toArrayBuffer(msgpack.writeMessage(message)),
          NullLogger.instance,
        );
        const expected = { ...message } as Record<string, unknown>;
        if (message.type === MessageType.Invocation) delete expected.streamIds;
        expect(parsed.map(canonicalClientMessage)).toStrictEqual([expected]);
      }),
    );
  });

  it('round-trips its own output, streamIds and Close fields included', () => {
    fc.assert(
      fc.property(anyHubMessage, (message) => {
        expect(msgpack.parseMessages(msgpack.writeMessage(message))).toStrictEqual([message]);
      }),
    );
  });

  it('parses several messages written into one frame, by the client or by itself', () => {
    fc.assert(
      fc.property(fc.array(anyHubMessage, { maxLength: 5 }), (messages) => {
        const theirs = Buffer.concat(
          messages.map((message) => new Uint8Array(clientMsgPack.writeMessage(asClient(message)))),
        );
        expect(msgpack.parseMessages(theirs)).toStrictEqual(messages.map(expectedFromClientMsgPack));
        const ours = Buffer.concat(messages.map((message) => msgpack.writeMessage(message)));
        expect(msgpack.parseMessages(ours)).toStrictEqual(messages);
      }),
    );
  });

  it('keeps earlier results intact while writing more messages', () => {
    fc.assert(
      fc.property(fc.array(anyHubMessage, { minLength: 2, maxLength: 20 }), (messages) => {
        const frames = messages.map((message) => msgpack.writeMessage(message));
        const copies = frames.map((frame) => Buffer.from(frame));
        messages.forEach((message) => msgpack.writeMessage(message));
        expect(frames).toEqual(copies);
      }),
    );
  });
});
