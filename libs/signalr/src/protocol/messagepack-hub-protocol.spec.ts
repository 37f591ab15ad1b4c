import { describe, expect, it } from '@jest/globals';
import {
  type HubMessage as ClientHubMessage,
  MessageType as ClientMessageType,
  NullLogger,
} from '@microsoft/signalr';
import { MessagePackHubProtocol as ClientMsgPack } from '@microsoft/signalr-protocol-msgpack';
import { Encoder } from '@msgpack/msgpack';
import { SignalRProtocolError } from './errors';
import { toArrayBuffer } from './hub-message.arbitraries';
import { MessagePackHubProtocol, PING_MESSAGE_MSGPACK } from './messagepack-hub-protocol';
import { type HubMessage, type InvocationMessage, MessageType } from './messages';
import { writeVarInt } from './varint';

const protocol = new MessagePackHubProtocol();
const client = new ClientMsgPack();
// Standard MessagePack, as any peer would write it, for hand-made message arrays.
const encoder = new Encoder();

const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');
const ascii = (value: string) => Buffer.from(value, 'utf8').toString('hex');

/** Frames one MessagePack array the way a peer would. */
function frame(array: unknown): Buffer {
  const body = encoder.encode(array);
  return Buffer.concat([writeVarInt(body.length), body]);
}

/** Hex of a body with its length prefix, spaces in `bodyHex` ignored. */
function framedHex(bodyHex: string): string {
  const body = bodyHex.replace(/ /g, '');
  return writeVarInt(body.length / 2).toString('hex') + body;
}

function clientWrites(message: HubMessage): Buffer {
  return Buffer.from(client.writeMessage(message as unknown as ClientHubMessage));
}

function clientParses(data: Uint8Array): ClientHubMessage[] {
  return client.parseMessages(toArrayBuffer(data), NullLogger.instance);
}

function parseCode(data: Uint8Array, maxMessageBytes?: number): string | undefined {
  try {
    protocol.parseMessages(data, maxMessageBytes);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SignalRProtocolError);
    return (error as SignalRProtocolError).code;
  }
}

const notification: InvocationMessage = {
  type: MessageType.Invocation,
  target: 'ReceiveMessage',
  arguments: [
    {
      ContextId: null,
      Type: 0,
      Payload: {
        Id: '0d2c0c6e-7b1e-4f9e-9a33-6f5a1c2b3d4e',
        UserId: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
        RevisionDate: new Date('2024-05-06T07:08:09.123Z'),
      },
    },
  ],
};

describe('MessagePackHubProtocol.writeMessage', () => {
  it('writes Ping as exactly 02 91 06, like the client', () => {
    expect(hex(PING_MESSAGE_MSGPACK)).toBe('029106');
    expect(hex(protocol.writeMessage({ type: MessageType.Ping }))).toBe('029106');
    expect(hex(clientWrites({ type: MessageType.Ping }))).toBe('029106');
  });

  it('writes a ReceiveMessage notification byte for byte as the client does', () => {
    const written = protocol.writeMessage(notification);
    const body = written.subarray(2);
    expect(hex(written.subarray(0, 2))).toBe(hex(writeVarInt(body.length)));
    expect(hex(body)).toMatch(
      new RegExp(
        '^' +
          // [1, {}, nil, "ReceiveMessage", [{ContextId: nil, Type: 0, Payload: {Id: ...
          ['95', '01', '80', 'c0', 'ae', ascii('ReceiveMessage'), '91', '83'].join('') +
          ['a9', ascii('ContextId'), 'c0', 'a4', ascii('Type'), '00', 'a7', ascii('Payload'), '83'].join('') +
          ['a2', ascii('Id'), 'd924', ascii('0d2c0c6e-7b1e-4f9e-9a33-6f5a1c2b3d4e')].join(''),
      ),
    );
    // RevisionDate is the timestamp extension -1, 64-bit form (milliseconds present).
    expect(hex(body).endsWith(['ac', ascii('RevisionDate'), 'd7ff', '1d535300', '663881d9'].join(''))).toBe(
      true,
    );
    expect(hex(written)).toBe(hex(clientWrites(notification)));
  });

  it.each([
    ['whole seconds as timestamp 32', '2024-05-06T07:08:09.000Z', 'd6ff663881d9'],
    ['milliseconds as timestamp 64', '2024-05-06T07:08:09.123Z', 'd7ff1d535300663881d9'],
    ['dates before 1970 as timestamp 96', '1969-12-31T23:59:59.000Z', 'c70cff00000000ffffffffffffffff'],
    [
      'negative times with milliseconds as timestamp 96',
      '1960-01-01T00:00:00.500Z',
      'c70cff1dcd6500ffffffffed300880',
    ],
  ])('writes %s, which both peers read back as the same Date', (_name, iso, dateHex) => {
    const message: InvocationMessage = {
      type: MessageType.Invocation,
      target: 'T',
      arguments: [new Date(iso)],
    };
    const written = protocol.writeMessage(message);
    expect(hex(written)).toBe(framedHex(`950180c0a15491${dateHex}`));
    expect(protocol.parseMessages(written)).toStrictEqual([message]);
    const parsed = (clientParses(written) as InvocationMessage[])[0]!;
    expect(parsed.arguments[0]).toEqual(new Date(iso));
  });

  it('writes absent headers as an empty map and undefined as nil, never msgpackr extensions', () => {
    const written = protocol.writeMessage({
      type: MessageType.Invocation,
      target: 'T',
      arguments: [undefined, { a: undefined }],
    });
    expect(hex(written)).toBe(framedHex('950180c0a154 92 c0 81a161c0'));
  });

  it('writes headers and an invocation id when given', () => {
    const message: InvocationMessage = {
      type: MessageType.Invocation,
      headers: { k: 'v' },
      invocationId: '7',
      target: 'T',
      arguments: [],
    };
    expect(hex(protocol.writeMessage(message))).toBe(framedHex('9501 81a16ba176 a137 a154 90'));
    expect(hex(protocol.writeMessage(message))).toBe(hex(clientWrites(message)));
  });

  it('writes streamIds only when present', () => {
    const withIds: HubMessage = { ...notification, arguments: [], streamIds: ['1'] };
    expect(hex(protocol.writeMessage(withIds))).toBe(
      framedHex(`960180c0ae${ascii('ReceiveMessage')} 90 91a131`),
    );
    expect(hex(protocol.writeMessage(withIds))).toBe(hex(clientWrites(withIds)));
  });

  it.each<[string, HubMessage, string]>([
    [
      'an error completion',
      { type: MessageType.Completion, invocationId: '1', error: 'E' },
      '9503 80 a131 01 a145',
    ],
    ['a void completion', { type: MessageType.Completion, invocationId: '1' }, '9403 80 a131 02'],
    [
      'a null result',
      { type: MessageType.Completion, invocationId: '1', result: null },
      '9503 80 a131 03 c0',
    ],
    ['a value result', { type: MessageType.Completion, invocationId: '1', result: 5 }, '9503 80 a131 03 05'],
    ['a stream item', { type: MessageType.StreamItem, invocationId: '1', item: 'x' }, '9402 80 a131 a178'],
    ['a cancel invocation', { type: MessageType.CancelInvocation, invocationId: '1' }, '9305 80 a131'],
    ['an ack', { type: MessageType.Ack, sequenceId: 300 }, '9208 cd012c'],
    ['a sequence', { type: MessageType.Sequence, sequenceId: 1 }, '9209 01'],
    ['a plain close', { type: MessageType.Close }, '9207 c0'],
  ])('writes %s as the client does', (_name, message, expected) => {
    expect(hex(protocol.writeMessage(message))).toBe(framedHex(expected));
    expect(hex(protocol.writeMessage(message))).toBe(hex(clientWrites(message)));
  });

  it('writes a close with error and allowReconnect, which the client reads', () => {
    const written = protocol.writeMessage({ type: MessageType.Close, error: 'bye', allowReconnect: true });
    expect(hex(written)).toBe(framedHex('9307 a3627965 c3'));
    expect(clientParses(written)).toEqual([
      { type: ClientMessageType.Close, error: 'bye', allowReconnect: true },
    ]);
    const withoutFlag = protocol.writeMessage({ type: MessageType.Close, error: 'bye' });
    expect(hex(withoutFlag)).toBe(framedHex('9207 a3627965'));
    expect(clientParses(withoutFlag)).toEqual([
      { type: ClientMessageType.Close, error: 'bye', allowReconnect: undefined },
    ]);
  });

  it('uses a multi-byte length prefix for large messages', () => {
    for (const size of [200, 20_000, 3_000_000]) {
      const message: InvocationMessage = {
        type: MessageType.Invocation,
        target: 'T',
        arguments: ['x'.repeat(size)],
      };
      const written = protocol.writeMessage(message);
      expect(hex(written)).toBe(hex(clientWrites(message)));
      expect(protocol.parseMessages(written)).toStrictEqual([message]);
    }
  });

  it('keeps every frame intact when later writes move to a new internal buffer', () => {
    const expected = clientWrites(notification);
    const frames = Array.from({ length: 500 }, () => protocol.writeMessage(notification));
    protocol.writeMessage({ type: MessageType.Invocation, target: 'T', arguments: ['x'.repeat(100_000)] });
    for (const frame of frames) expect(hex(frame)).toBe(hex(expected));
  });

  it('writes integers beyond 32 bits as float64, which the client reads as the same number', () => {
    const message: InvocationMessage = {
      type: MessageType.Invocation,
      target: 'T',
      arguments: [2 ** 40, -(2 ** 40)],
    };
    const written = protocol.writeMessage(message);
    expect(hex(written)).toContain('cb4270000000000000');
    expect(clientParses(written)).toEqual([{ ...message, headers: {}, streamIds: [] }]);
  });

  it('writes byte arrays as bin and reads them back as a copy', () => {
    const message: InvocationMessage = {
      type: MessageType.Invocation,
      target: 'T',
      arguments: [Buffer.from([1, 2])],
    };
    const written = protocol.writeMessage(message);
    expect(hex(written)).toBe(framedHex('950180c0a15491 c4020102'));
    const parsed = (protocol.parseMessages(written) as InvocationMessage[])[0]!;
    expect([...(parsed.arguments[0] as Uint8Array)]).toEqual([1, 2]);
    expect((parsed.arguments[0] as Uint8Array).buffer).not.toBe(written.buffer);
  });

  it('refuses to write an unknown message type', () => {
    const unknownType = JSON.parse('{"type":42}') as HubMessage;
    expect(() => protocol.writeMessage(unknownType)).toThrow(TypeError);
  });
});

describe('MessagePackHubProtocol.parseMessages', () => {
  it('parses what real clients send: Ping and Close', () => {
    expect(protocol.parseMessages(Buffer.from('029106039207c0', 'hex'))).toStrictEqual([
      { type: MessageType.Ping },
      { type: MessageType.Close },
    ]);
  });

  it('skips unknown message types but keeps the messages around them', () => {
    const data = Buffer.concat([
      frame([0]),
      PING_MESSAGE_MSGPACK,
      frame([10, {}, 'x']),
      frame([99]),
      frame([-1]),
    ]);
    expect(protocol.parseMessages(data)).toStrictEqual([{ type: MessageType.Ping }]);
  });

  it('accepts trailing elements a later protocol version may add', () => {
    expect(protocol.parseMessages(frame([6, 'future']))).toStrictEqual([{ type: MessageType.Ping }]);
    expect(protocol.parseMessages(frame([8, 3, 'future']))).toStrictEqual([
      { type: MessageType.Ack, sequenceId: 3 },
    ]);
  });

  it('omits empty headers and a nil invocation id', () => {
    expect(protocol.parseMessages(frame([1, {}, null, 'T', []]))).toStrictEqual([
      { type: MessageType.Invocation, target: 'T', arguments: [] },
    ]);
  });

  it('reads Dates in every timestamp form, including the client’s 64-bit form after 2106', () => {
    const dates = [
      '2024-05-06T07:08:09Z',
      '2024-05-06T07:08:09.123Z',
      '1900-01-01T00:00:00.5Z',
      '2200-01-01T00:00:00Z',
    ];
    const args = dates.map((iso) => new Date(iso));
    expect(hex(frame(args))).toContain('d7ff00000001b09e1900');
    expect(protocol.parseMessages(frame([1, {}, null, 'T', args]))).toStrictEqual([
      { type: MessageType.Invocation, target: 'T', arguments: args },
    ]);
  });

  it.each([
    ['a non-array message', 'string'],
    ['an empty array', []],
    ['a string type', ['1']],
    ['a fractional type', [1.5]],
    ['a nil type', [null]],
    ['an invocation missing arguments', [1, {}, null, 'T']],
    ['an invocation with nil headers', [1, null, null, 'T', []]],
    ['an invocation with array headers', [1, ['a'], null, 'T', []]],
    ['an invocation with a non-string header value', [1, { a: 1 }, null, 'T', []]],
    ['an invocation with a numeric id', [1, {}, 5, 'T', []]],
    ['an invocation with a numeric target', [1, {}, null, 5, []]],
    ['an invocation with an empty target', [1, {}, null, '', []]],
    ['an invocation with map arguments', [1, {}, null, 'T', {}]],
    ['an invocation with numeric streamIds', [1, {}, null, 'T', [], [1]]],
    ['a stream item without item', [2, {}, '1']],
    ['a stream item with a nil id', [2, {}, null, 1]],
    ['a completion without result kind', [3, {}, '1']],
    ['a completion with result kind 4', [3, {}, '1', 4, 1]],
    ['a completion with result kind 3 but no result', [3, {}, '1', 3]],
    ['a completion with a numeric error', [3, {}, '1', 1, 5]],
    ['a stream invocation without id', [4, {}, null, 'T', []]],
    ['a cancel invocation without id', [5, {}]],
    ['a close without error element', [7]],
    ['a close with a numeric error', [7, 5]],
    ['a close with a string allowReconnect', [7, null, 'yes']],
    ['an ack without sequence id', [8]],
    ['an ack with a fractional sequence id', [8, 1.5]],
    ['a sequence with a string sequence id', [9, '1']],
  ])('refuses %s', (_name, array) => {
    expect(parseCode(frame(array))).toBe('message');
  });

  it('refuses an empty message body', () => {
    expect(parseCode(Buffer.from([0x00]))).toBe('message');
  });

  it('refuses __proto__ keys instead of renaming them', () => {
    // 81 a9 "__proto__" 81 a1 "x" 01: {"__proto__": {"x": 1}}
    const body = Buffer.from(`950180c0a15491 81a9${ascii('__proto__')} 81a17801`.replace(/ /g, ''), 'hex');
    expect(parseCode(Buffer.concat([writeVarInt(body.length), body]))).toBe('message');
    expect(Object.prototype).not.toHaveProperty('x');
  });

  it('enforces maxMessageBytes per message', () => {
    const small = protocol.writeMessage({
      type: MessageType.Invocation,
      target: 'T',
      arguments: ['x'.repeat(100)],
    });
    const data = Buffer.concat([PING_MESSAGE_MSGPACK, small]);
    expect(parseCode(data, small.length - 2)).toBe('too-large');
    expect(parseCode(data, small.length - 1)).toBeUndefined();
  });

  it('reports framing errors as framing', () => {
    expect(parseCode(Buffer.from([0x03, 0x91, 0x06]))).toBe('framing');
    expect(parseCode(Buffer.from([0x80]))).toBe('framing');
  });
});
