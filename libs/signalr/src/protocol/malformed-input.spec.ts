// Fuzzing: whatever a peer sends, parsing either succeeds or throws SignalRProtocolError.
import { describe, expect, it } from '@jest/globals';
import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { SignalRProtocolError } from './errors';
import { parseHandshakeRequest } from './handshake';
import { anyHubMessage, argument } from './hub-message.arbitraries';
import { JsonHubProtocol } from './json-hub-protocol';
import { MessagePackHubProtocol } from './messagepack-hub-protocol';
import { writeVarInt } from './varint';

const json = new JsonHubProtocol();
const msgpack = new MessagePackHubProtocol();
const encoder = new Encoder();

/** True when `action` returns or throws SignalRProtocolError; anything else fails the test. */
function onlyProtocolErrors(action: () => unknown): boolean {
  try {
    action();
  } catch (error) {
    if (!(error instanceof SignalRProtocolError)) throw error;
  }
  return true;
}

const framed = (body: Uint8Array) => Buffer.concat([writeVarInt(body.length), body]);

/** A valid frame with some bytes overwritten, cut short, or spliced in. */
function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(),
    )
    .chain(([frame, edits, cut]) =>
      fc.constantFrom(
        Buffer.from(
          frame.map((byte, index) => edits.find(([at]) => at % frame.length === index)?.[1] ?? byte),
        ),
        frame.subarray(0, cut % frame.length),
        Buffer.concat([
          frame.subarray(0, cut % frame.length),
          Buffer.from(edits.map(([, byte]) => byte)),
          frame.subarray(cut % frame.length),
        ]),
      ),
    );
}

/** Fields of every message type with values of any JSON type, so shapes are often wrong. */
const fieldSoup = fc.dictionary(
  fc.constantFrom(
    'headers',
    'invocationId',
    'target',
    'arguments',
    'streamIds',
    'item',
    'result',
    'error',
    'allowReconnect',
    'sequenceId',
  ),
  fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant([]), fc.constant({})),
);

describe('MessagePack parsing of hostile input', () => {
  it('survives random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) =>
        onlyProtocolErrors(() => msgpack.parseMessages(data)),
      ),
    );
  });

  it('survives random bodies behind a valid length prefix', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { minLength: 1, maxLength: 3 }), (bodies) =>
        onlyProtocolErrors(() => msgpack.parseMessages(Buffer.concat(bodies.map(framed)))),
      ),
    );
  });

  it('survives mutated valid frames', () => {
    const valid = anyHubMessage.map((message) => msgpack.writeMessage(message));
    fc.assert(
      fc.property(mutated(valid), (data) => onlyProtocolErrors(() => msgpack.parseMessages(data, 2048))),
    );
  });

  it('survives well-formed arrays with elements of the wrong types', () => {
    const array = fc.tuple(
      fc.integer({ min: -1, max: 10 }),
      fc.array(fc.oneof(argument, fc.constant({}), fc.constant([])), { maxLength: 6 }),
    );
    fc.assert(
      fc.property(array, ([type, rest]) =>
        onlyProtocolErrors(() => msgpack.parseMessages(framed(encoder.encode([type, ...rest])))),
      ),
    );
  });

  it('fails fast on inputs built to exhaust time or memory', () => {
    const hostile = [
      framed(Buffer.alloc(100_000, 0x91)),
      framed(Buffer.from('ddffffffff', 'hex')),
      framed(Buffer.concat([Buffer.from('dcffff', 'hex'), Buffer.alloc(60_000, 0xdc)])),
      Buffer.alloc(100_000, 0x80),
      Buffer.concat(Array.from({ length: 10_000 }, () => Buffer.from('029106', 'hex'))),
    ];
    for (const data of hostile) expect(onlyProtocolErrors(() => msgpack.parseMessages(data))).toBe(true);
  });
});

describe('JSON parsing of hostile input', () => {
  it('survives random bytes, terminated or not', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (data, terminate) =>
        onlyProtocolErrors(() =>
          json.parseMessages(terminate ? Buffer.concat([data, Buffer.from([0x1e])]) : data),
        ),
      ),
    );
  });

  it('survives random text and random JSON', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.json(),
      fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '1', 'type', '\u001e') }),
    );
    fc.assert(
      fc.property(fc.array(text, { maxLength: 4 }), (parts) =>
        onlyProtocolErrors(() => json.parseMessages(Buffer.from(`${parts.join('\u001e')}\u001e`))),
      ),
    );
  });

  it('survives objects of any message type with fields of the wrong types', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 10 }), fieldSoup, (type, fields) =>
        onlyProtocolErrors(() =>
          json.parseMessages(Buffer.from(`${JSON.stringify({ type, ...fields })}\u001e`)),
        ),
      ),
    );
  });

  it('survives mutated valid frames', () => {
    const valid = anyHubMessage.map((message) => json.writeMessage(message));
    fc.assert(
      fc.property(mutated(valid), (data) => onlyProtocolErrors(() => json.parseMessages(data, 2048))),
    );
  });

  it('fails fast on deeply nested JSON', () => {
    const deep = `{"type":1,"target":"T","arguments":${'['.repeat(100_000)}${']'.repeat(100_000)}}\u001e`;
    expect(onlyProtocolErrors(() => json.parseMessages(Buffer.from(deep)))).toBe(true);
  });
});

describe('handshake parsing of hostile input', () => {
  it('survives random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (data, terminate) =>
        onlyProtocolErrors(() =>
          parseHandshakeRequest(terminate ? Buffer.concat([data, Buffer.from([0x1e])]) : data),
        ),
      ),
    );
  });

  it('survives random JSON', () => {
    fc.assert(
      fc.property(fc.json(), (text) =>
        onlyProtocolErrors(() => parseHandshakeRequest(Buffer.from(`${text}\u001e`))),
      ),
    );
  });
});
