import { describe, expect, it } from '@jest/globals';
import {
  JsonHubProtocol as ClientJson,
  MessageType as ClientMessageType,
  NullLogger,
} from '@microsoft/signalr';
import { SignalRProtocolError } from './errors';
import { parseHandshakeRequest } from './handshake';
import { JsonHubProtocol } from './json-hub-protocol';
import { type HubMessage, MessageType } from './messages';

const protocol = new JsonHubProtocol();
const client = new ClientJson();

const frame = (...messages: string[]) =>
  Buffer.from(messages.map((message) => `${message}\u001e`).join(''), 'utf8');
const written = (message: HubMessage) => protocol.writeMessage(message).toString('utf8');

function parseCode(data: Uint8Array, maxMessageBytes?: number): string | undefined {
  try {
    protocol.parseMessages(data, maxMessageBytes);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SignalRProtocolError);
    return (error as SignalRProtocolError).code;
  }
}

describe('JsonHubProtocol.writeMessage', () => {
  it('writes Ping as the client does', () => {
    expect(written({ type: MessageType.Ping })).toBe('{"type":6}\u001e');
    expect(client.writeMessage({ type: ClientMessageType.Ping })).toBe('{"type":6}\u001e');
  });

  it('writes a notification with the official field names and Dates as ISO strings', () => {
    const text = written({
      type: MessageType.Invocation,
      target: 'ReceiveMessage',
      arguments: [
        { ContextId: null, Type: 5, Payload: { UserId: 'u', Date: new Date('2024-05-06T07:08:09.123Z') } },
      ],
    });
    expect(text).toBe(
      '{"type":1,"target":"ReceiveMessage","arguments":[{"ContextId":null,"Type":5,' +
        '"Payload":{"UserId":"u","Date":"2024-05-06T07:08:09.123Z"}}]}\u001e',
    );
  });

  it.each<[string, HubMessage, string]>([
    [
      'an invocation with every field',
      {
        type: MessageType.Invocation,
        headers: { a: 'b' },
        invocationId: '1',
        target: 'T',
        arguments: [],
        streamIds: ['s'],
      },
      '{"type":1,"headers":{"a":"b"},"invocationId":"1","target":"T","arguments":[],"streamIds":["s"]}',
    ],
    [
      'a stream invocation',
      { type: MessageType.StreamInvocation, invocationId: '1', target: 'T', arguments: [1] },
      '{"type":4,"invocationId":"1","target":"T","arguments":[1]}',
    ],
    [
      'a stream item',
      { type: MessageType.StreamItem, invocationId: '1', item: null },
      '{"type":2,"invocationId":"1","item":null}',
    ],
    [
      'an error completion',
      { type: MessageType.Completion, invocationId: '1', error: 'E' },
      '{"type":3,"invocationId":"1","error":"E"}',
    ],
    [
      'a null result',
      { type: MessageType.Completion, invocationId: '1', result: null },
      '{"type":3,"invocationId":"1","result":null}',
    ],
    [
      'a void completion',
      { type: MessageType.Completion, invocationId: '1' },
      '{"type":3,"invocationId":"1"}',
    ],
    [
      'a cancel invocation',
      { type: MessageType.CancelInvocation, invocationId: '1' },
      '{"type":5,"invocationId":"1"}',
    ],
    ['a plain close', { type: MessageType.Close }, '{"type":7}'],
    [
      'a close with error',
      { type: MessageType.Close, error: 'bye', allowReconnect: true },
      '{"type":7,"error":"bye","allowReconnect":true}',
    ],
    ['an ack', { type: MessageType.Ack, sequenceId: 3 }, '{"type":8,"sequenceId":3}'],
    ['a sequence', { type: MessageType.Sequence, sequenceId: 4 }, '{"type":9,"sequenceId":4}'],
  ])('writes %s', (_name, message, expected) => {
    expect(written(message)).toBe(`${expected}\u001e`);
  });

  it('escapes the record separator inside strings, so the frame stays splittable', () => {
    const text = written({ type: MessageType.Invocation, target: 'T', arguments: ['a\u001eb'] });
    expect(text.indexOf('\u001e')).toBe(text.length - 1);
    expect(client.parseMessages(text, NullLogger.instance)).toEqual([
      { type: ClientMessageType.Invocation, target: 'T', arguments: ['a\u001eb'] },
    ]);
  });

  it('writes non-ASCII text as UTF-8', () => {
    const data = protocol.writeMessage({ type: MessageType.Invocation, target: 'T', arguments: ['é😀'] });
    expect(data.toString('hex')).toContain('c3a9f09f9880');
    expect(protocol.parseMessages(data)).toStrictEqual([
      { type: MessageType.Invocation, target: 'T', arguments: ['é😀'] },
    ]);
  });

  it('refuses to write an unknown message type', () => {
    const unknownType = JSON.parse('{"type":42}') as HubMessage;
    expect(() => protocol.writeMessage(unknownType)).toThrow(TypeError);
  });
});

describe('JsonHubProtocol.parseMessages', () => {
  it('parses what real clients send: Ping and Close', () => {
    expect(protocol.parseMessages(frame('{"type":6}', '{"type":7}'))).toStrictEqual([
      { type: MessageType.Ping },
      { type: MessageType.Close },
    ]);
  });

  it('returns nothing for an empty frame', () => {
    expect(protocol.parseMessages(new Uint8Array(0))).toEqual([]);
  });

  it('parses the messages that follow the handshake in the same frame', () => {
    const data = frame(
      '{"protocol":"json","version":1}',
      '{"type":6}',
      '{"type":1,"target":"T","arguments":[]}',
    );
    const handshake = parseHandshakeRequest(data);
    expect(handshake?.request).toEqual({ protocol: 'json', version: 1 });
    expect(protocol.parseMessages(handshake!.remaining)).toStrictEqual([
      { type: MessageType.Ping },
      { type: MessageType.Invocation, target: 'T', arguments: [] },
    ]);
  });

  it('skips unknown message types and their fields', () => {
    expect(
      protocol.parseMessages(frame('{"type":0}', '{"type":10,"x":{}}', '{"type":-3}', '{"type":6}')),
    ).toStrictEqual([{ type: MessageType.Ping }]);
  });

  it('keeps known fields only, treats null optional fields and empty headers as absent', () => {
    const data = frame(
      '{"type":1,"headers":{},"invocationId":null,"target":"T","arguments":[],"streamIds":null,"extra":1}',
      '{"type":7,"error":null,"allowReconnect":null}',
    );
    expect(protocol.parseMessages(data)).toStrictEqual([
      { type: MessageType.Invocation, target: 'T', arguments: [] },
      { type: MessageType.Close },
    ]);
  });

  it('distinguishes a null result from a void completion', () => {
    expect(protocol.parseMessages(frame('{"type":3,"invocationId":"1","result":null}'))).toStrictEqual([
      { type: MessageType.Completion, invocationId: '1', result: null },
    ]);
    expect(protocol.parseMessages(frame('{"type":3,"invocationId":"1","error":null}'))).toStrictEqual([
      { type: MessageType.Completion, invocationId: '1' },
    ]);
  });

  it.each([
    ['a JSON array', '[1]'],
    ['a JSON string', '"x"'],
    ['null', 'null'],
    ['a missing type', '{}'],
    ['a string type', '{"type":"1"}'],
    ['a fractional type', '{"type":1.5}'],
    ['an invocation without target', '{"type":1,"arguments":[]}'],
    ['an invocation with an empty target', '{"type":1,"target":"","arguments":[]}'],
    ['an invocation without arguments', '{"type":1,"target":"T"}'],
    ['an invocation with object arguments', '{"type":1,"target":"T","arguments":{}}'],
    ['an invocation with a numeric id', '{"type":1,"invocationId":1,"target":"T","arguments":[]}'],
    ['an invocation with numeric header values', '{"type":1,"headers":{"a":1},"target":"T","arguments":[]}'],
    ['an invocation with array headers', '{"type":1,"headers":["a"],"target":"T","arguments":[]}'],
    ['an invocation with string streamIds', '{"type":1,"target":"T","arguments":[],"streamIds":"s"}'],
    ['a stream item without item', '{"type":2,"invocationId":"1"}'],
    ['a stream item without id', '{"type":2,"item":1}'],
    ['a completion with error and result', '{"type":3,"invocationId":"1","error":"E","result":1}'],
    ['a completion with a numeric error', '{"type":3,"invocationId":"1","error":5}'],
    ['a completion without id', '{"type":3,"result":1}'],
    ['a stream invocation without id', '{"type":4,"target":"T","arguments":[]}'],
    ['a cancel invocation without id', '{"type":5}'],
    ['a close with a numeric error', '{"type":7,"error":1}'],
    ['a close with a string allowReconnect', '{"type":7,"allowReconnect":"true"}'],
    ['an ack without sequence id', '{"type":8}'],
    ['a sequence with a string sequence id', '{"type":9,"sequenceId":"1"}'],
    ['a nested __proto__ key', '{"type":1,"target":"T","arguments":[{"__proto__":{"polluted":1}}]}'],
    ['an escaped __proto__ key', '{"type":1,"target":"T","arguments":[{"\\u005f_proto__":{"polluted":1}}]}'],
    ['truncated JSON', '{"type":6'],
    ['an empty message', ''],
    ['a byte order mark', '\ufeff{"type":6}'],
  ])('refuses %s', (_name, body) => {
    expect(parseCode(frame(body))).toBe('message');
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('refuses invalid UTF-8', () => {
    const data = Buffer.concat([
      Buffer.from('{"type":1,"target":"'),
      Buffer.from([0xff]),
      Buffer.from('","arguments":[]}\u001e'),
    ]);
    expect(parseCode(data)).toBe('message');
  });

  it('refuses a frame whose last message is not terminated', () => {
    expect(parseCode(Buffer.from('{"type":6}'))).toBe('framing');
    expect(parseCode(Buffer.from('{"type":6}\u001e{"type":6}'))).toBe('framing');
  });

  it('enforces maxMessageBytes per message, separator excluded', () => {
    const data = frame('{"type":6}', '{"type":7}', `{"type":7,"error":"${'x'.repeat(100)}"}`);
    expect(parseCode(data, 121)).toBeUndefined();
    expect(parseCode(data, 120)).toBe('too-large');
  });
});
