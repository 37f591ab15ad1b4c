import { type Random } from './random';
import { HANDSHAKE, PING } from './raw-hub-client';
import { Opcode, RawTcp, wsFrame } from './raw-tcp';

/** What one attack did: frames it wrote, and whether the gateway ended the conversation. */
export interface AttackResult {
  frames: number;
  endedByServer: boolean;
}

export interface AttackContext {
  port: number;
  /** The next source address (hostile traffic comes from many). */
  source(): string;
  random: Random;
  /** Valid `/hub` tokens of hostile users. */
  userToken(): string;
  /** A well-formed token signed by a key the gateway does not trust. */
  forgedToken: string;
}

export interface Attack {
  name: string;
  run(context: AttackContext): Promise<AttackResult>;
}

/** How long an attack that must be refused waits for the gateway to end it (a deadline). */
const END_DEADLINE_MS = 15_000;

const RS = '\x1e';

function varint(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length & 0x7f;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

/** One MessagePack-protocol message: VarInt length + body. */
const framed = (body: Buffer) => Buffer.concat([varint(body.length), body]);

const text = (data: string | Buffer) => wsFrame(Opcode.Text, Buffer.from(data));
const binary = (data: Buffer) => wsFrame(Opcode.Binary, data);

async function open(context: AttackContext): Promise<RawTcp> {
  return RawTcp.open(context.port, context.source());
}

/** An upgraded connection on a hub: the anonymous hub (no token needed) or `/hub` with a valid token. */
async function upgraded(context: AttackContext, hub: 'anonymous' | 'user' = 'anonymous'): Promise<RawTcp> {
  const connection = await open(context);
  const path =
    hub === 'anonymous'
      ? `/anonymous-hub?Token=${context.random.uuid()}`
      : `/notifications/hub?access_token=${context.userToken()}`;
  const status = await connection.upgrade(path);
  if (status !== 101) {
    connection.destroy();
    throw new Error(`upgrade for an attack answered ${status}`);
  }
  return connection;
}

/** Upgraded and past the SignalR handshake (its answer received). */
async function connected(context: AttackContext, protocol: 'messagepack' | 'json'): Promise<RawTcp> {
  const connection = await upgraded(context, context.random.chance(0.5) ? 'anonymous' : 'user');
  connection.write(text(HANDSHAKE[protocol]));
  if (!(await connection.waitFirstFrame())) {
    connection.destroy();
    throw new Error('handshake for an attack was not answered');
  }
  return connection;
}

/** Writes `frames` and waits for the gateway to end the conversation. */
async function expectEnd(
  connection: RawTcp,
  frames: Buffer[],
  counted = frames.length,
): Promise<AttackResult> {
  for (const frame of frames) connection.write(frame);
  const endedByServer = await connection.waitEnded(END_DEADLINE_MS);
  connection.destroy();
  return { frames: counted, endedByServer };
}

const closing = (name: string, run: (context: AttackContext) => Promise<AttackResult>): Attack => ({
  name,
  run,
});

/**
 * Attacks the gateway must answer by ending the conversation: refusals before the upgrade, broken
 * handshakes, malformed MessagePack and JSON hub messages, WebSocket protocol errors, oversize.
 * Each uses a connection of its own and counts the frames (or raw writes) it sent.
 */
export const CLOSING_ATTACKS: Attack[] = [
  closing('tcp-random-bytes', async (context) => {
    const connection = await open(context);
    return expectEnd(connection, [context.random.bytes(context.random.between(1, 1500))]);
  }),
  closing('http-bad-websocket-key', async (context) => {
    const connection = await open(context);
    const request = RawTcp.upgradeRequest(`/anonymous-hub?Token=${context.random.uuid()}`, {
      'Sec-WebSocket-Key': 'short',
    });
    return expectEnd(connection, [Buffer.from(request)]);
  }),
  closing('http-no-websocket-version', async (context) => {
    const connection = await open(context);
    const request = RawTcp.upgradeRequest(`/anonymous-hub?Token=${context.random.uuid()}`, {
      'Sec-WebSocket-Version': undefined,
    });
    return expectEnd(connection, [Buffer.from(request)]);
  }),
  closing('http-oversized-headers', async (context) => {
    const connection = await open(context);
    const request = RawTcp.upgradeRequest('/hub', { 'X-Filler': 'a'.repeat(20_000) });
    return expectEnd(connection, [Buffer.from(request)]);
  }),
  closing('http-no-token', async (context) => {
    const connection = await open(context);
    return expectEnd(connection, [Buffer.from(RawTcp.upgradeRequest('/hub'))]);
  }),
  closing('http-garbage-token', async (context) => {
    const connection = await open(context);
    const token = context.random.bytes(context.random.between(10, 600)).toString('base64url');
    return expectEnd(connection, [Buffer.from(RawTcp.upgradeRequest(`/hub?access_token=${token}`))]);
  }),
  closing('http-forged-token', async (context) => {
    const connection = await open(context);
    const request = RawTcp.upgradeRequest('/notifications/hub', {
      Authorization: `Bearer ${context.forgedToken}`,
    });
    return expectEnd(connection, [Buffer.from(request)]);
  }),
  closing('http-anonymous-token-not-a-guid', async (context) => {
    const connection = await open(context);
    return expectEnd(connection, [Buffer.from(RawTcp.upgradeRequest('/anonymous-hub?Token=../../etc'))]);
  }),
  closing('http-unknown-path', async (context) => {
    const connection = await open(context);
    return expectEnd(connection, [Buffer.from(RawTcp.upgradeRequest('/hub/../admin'))]);
  }),
  closing('handshake-random-bytes', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [
      text(Buffer.concat([context.random.bytes(context.random.between(1, 800)), Buffer.from(RS)])),
    ]);
  }),
  closing('handshake-unknown-protocol', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [text(`{"protocol":"xml","version":1}${RS}`)]);
  }),
  closing('handshake-unsupported-version', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [
      text(`{"protocol":"messagepack","version":${context.random.between(3, 1e6)}}${RS}`),
    ]);
  }),
  closing('handshake-not-an-object', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [text(`${context.random.pick(['[]', '"json"', '42', 'null', '{'])}${RS}`)]);
  }),
  closing('handshake-oversized-frame', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [text(`{"protocol":"json","version":1,"x":"${'a'.repeat(5000)}"}${RS}`)]);
  }),
  closing('handshake-endless', async (context) => {
    const connection = await upgraded(context);
    const piece = text(`{"protocol":"json","x":"${'b'.repeat(3000)}`);
    return expectEnd(connection, [piece, text('c'.repeat(3000))]);
  }),
  closing('messagepack-random-bytes', async (context) => {
    const connection = await connected(context, 'messagepack');
    return expectEnd(connection, [binary(framed(context.random.bytes(context.random.between(1, 1000))))]);
  }),
  closing('messagepack-huge-length-prefix', async (context) => {
    const connection = await connected(context, 'messagepack');
    return expectEnd(connection, [
      binary(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), context.random.bytes(16)])),
    ]);
  }),
  closing('messagepack-truncated', async (context) => {
    const connection = await connected(context, 'messagepack');
    return expectEnd(connection, [binary(Buffer.concat([varint(500), context.random.bytes(40)]))]);
  }),
  closing('messagepack-deep-nesting', async (context) => {
    const connection = await connected(context, 'messagepack');
    const depth = context.random.between(100, 1800);
    return expectEnd(connection, [
      binary(framed(Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]))),
    ]);
  }),
  closing('messagepack-extension-types', async (context) => {
    const connection = await connected(context, 'messagepack');
    // [1, {}, nil, "x", [ext 0x72 (a msgpackr record)]]
    const body = Buffer.concat([
      Buffer.from([0x95, 0x01, 0x80, 0xc0, 0xa1, 0x78, 0x91]),
      Buffer.from([0xd4, context.random.pick([0x72, 0x05, 0x7f, 0x00]), 0x00]),
    ]);
    return expectEnd(connection, [binary(framed(body))]);
  }),
  closing('messagepack-wrong-shape', async (context) => {
    const connection = await connected(context, 'messagepack');
    const bodies = [
      Buffer.from([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0x01]), // {"type": 1}
      Buffer.from([0x92, 0xa1, 0x31, 0x80]), // ["1", {}]
      Buffer.from([0x95, 0x01, 0x80, 0xc0, 0x05, 0x90]), // target is a number
      Buffer.from([0x90]), // []
      Buffer.from([0xc1]), // reserved byte
    ];
    return expectEnd(connection, [binary(framed(context.random.pick(bodies)))]);
  }),
  closing('messagepack-oversized-message', async (context) => {
    const connection = await connected(context, 'messagepack');
    const body = Buffer.concat([Buffer.from([0x91, 0xda, 0x0b, 0xb8]), Buffer.alloc(3000, 0x61)]);
    return expectEnd(connection, [binary(framed(body))]);
  }),
  closing('oversized-frame', async (context) => {
    const connection = await connected(context, context.random.chance(0.5) ? 'messagepack' : 'json');
    return expectEnd(connection, [binary(context.random.bytes(60_000))]);
  }),
  closing('json-random-text', async (context) => {
    const connection = await connected(context, 'json');
    const junk = context.random.bytes(context.random.between(1, 800)).toString('base64').replace(/[{"]/g, '');
    return expectEnd(connection, [text(`${junk}${RS}`)]);
  }),
  closing('json-deep-nesting', async (context) => {
    const connection = await connected(context, 'json');
    const depth = context.random.between(200, 1000);
    return expectEnd(connection, [text(`${'['.repeat(depth)}${']'.repeat(depth)}${RS}`)]);
  }),
  closing('json-deep-object', async (context) => {
    const connection = await connected(context, 'json');
    const depth = context.random.between(100, 300);
    return expectEnd(connection, [text(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}${RS}`)]);
  }),
  closing('json-not-an-object', async (context) => {
    const connection = await connected(context, 'json');
    return expectEnd(connection, [text(`${context.random.pick(['42', '"x"', 'null', '[1]', 'true'])}${RS}`)]);
  }),
  closing('json-wrong-field-types', async (context) => {
    const connection = await connected(context, 'json');
    return expectEnd(connection, [
      text(
        `${context.random.pick(['{"type":"1"}', '{"type":1,"target":5,"arguments":[]}', '{"type":1.5}'])}${RS}`,
      ),
    ]);
  }),
  closing('json-oversized-message', async (context) => {
    const connection = await connected(context, 'json');
    return expectEnd(connection, [text(`{"type":6,"x":"${'z'.repeat(3000)}"}${RS}`)]);
  }),
  closing('json-prototype-keys', async (context) => {
    const connection = await connected(context, 'json');
    const message = `{"__proto__":{"polluted":true},"type":${context.random.pick([6, 99])}}`;
    return expectEnd(connection, [text(`${message}${RS}`)]);
  }),
  closing('text-invalid-utf8', async (context) => {
    const connection = await connected(context, 'json');
    return expectEnd(connection, [wsFrame(Opcode.Text, Buffer.from([0x7b, 0xff, 0xfe, 0xc0, 0x7d, 0x1e]))]);
  }),
  closing('websocket-unmasked-frame', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [wsFrame(Opcode.Text, Buffer.from(HANDSHAKE.json), { masked: false })]);
  }),
  closing('websocket-reserved-opcode', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [
      wsFrame(context.random.pick([0x3, 0x4, 0x7, 0xb, 0xf]), context.random.bytes(8)),
    ]);
  }),
  closing('websocket-rsv-bits', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [
      wsFrame(Opcode.Text, Buffer.from(HANDSHAKE.json), { rsv: context.random.between(1, 7) }),
    ]);
  }),
  closing('websocket-huge-length', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [wsFrame(Opcode.Binary, Buffer.alloc(16), { declaredLength: 2n ** 62n })]);
  }),
  closing('websocket-long-control-frame', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [wsFrame(Opcode.Ping, context.random.bytes(200))]);
  }),
  closing('websocket-orphan-continuation', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [wsFrame(Opcode.Continuation, Buffer.from('{}'))]);
  }),
  closing('websocket-fragmented-control', async (context) => {
    const connection = await upgraded(context);
    return expectEnd(connection, [wsFrame(Opcode.Ping, Buffer.from('hi'), { fin: false })]);
  }),
  closing('tcp-half-close', async (context) => {
    const connection = await connected(context, 'messagepack');
    connection.socket.end();
    const endedByServer = await connection.waitEnded(END_DEADLINE_MS);
    connection.destroy();
    return { frames: 1, endedByServer };
  }),
];

/** How many frames a flood writes on its one connection. */
const FLOOD = 400;

/**
 * Floods on one connection each: SignalR Pings, calls to methods that do not exist (answered with
 * a Completion error), message types a server ignores, and WebSocket pings. The gateway reads the
 * first three as signs of life; a WebSocket ping flood is cut off by the ws library once more than
 * 60 pongs are pending (`maxPendingAutoPongs`). `endedByServer` tells whether the gateway ended it.
 */
export const FLOODS: Attack[] = [
  flood('ping-flood-messagepack', 'messagepack', () => binary(PING.messagepack as Buffer)),
  flood('ping-flood-json', 'json', () => text(PING.json)),
  flood('websocket-ping-flood', 'messagepack', (random) =>
    wsFrame(Opcode.Ping, random.bytes(random.int(100))),
  ),
  flood('batched-pings', 'messagepack', () =>
    binary(Buffer.concat(Array.from({ length: 60 }, () => PING.messagepack as Buffer))),
  ),
  flood('unknown-target-messagepack', 'messagepack', (random, index) => {
    // [1, {}, "<id>", "NoSuchMethod", [1, "x"]]: a blocking call, answered with a Completion error.
    const id = String(index);
    const body = Buffer.concat([
      Buffer.from([0x95, 0x01, 0x80, 0xa0 | id.length]),
      Buffer.from(id),
      Buffer.from([0xac]),
      Buffer.from(random.chance(0.5) ? 'NoSuchMethod' : 'SendMessage!'),
      Buffer.from([0x92, 0x01, 0xa1, 0x78]),
    ]);
    return binary(framed(body));
  }),
  flood('unknown-target-json', 'json', (random, index) =>
    text(
      `{"type":1,${random.chance(0.5) ? `"invocationId":"${index}",` : ''}"target":"${random.pick(['Nope', 'ReceiveMessage', 'constructor', '__proto__'])}","arguments":[${index}]}${RS}`,
    ),
  ),
  flood('unknown-message-types', 'messagepack', (random, index) => {
    const bodies = [
      Buffer.from([0x91, 0x63]), // [99]
      Buffer.from([0x94, 0x02, 0x80, 0xa1, 0x31, 0x01]), // StreamItem
      Buffer.from([0x93, 0x05, 0x80, 0xa1, 0x31]), // CancelInvocation
      Buffer.from([0x94, 0x03, 0x80, 0xa1, 0x31, 0x02]), // Completion
      Buffer.from([0x92, 0x08, index & 0x7f]), // Ack
      Buffer.from([0x92, 0x09, index & 0x7f]), // Sequence
    ];
    return binary(framed(random.pick(bodies)));
  }),
];

function flood(
  name: string,
  protocol: 'messagepack' | 'json',
  frame: (random: Random, index: number) => Buffer,
): Attack {
  return {
    name,
    async run(context) {
      const connection = await connected(context, protocol);
      let frames = 0;
      for (let index = 0; index < FLOOD && connection.isOpen; index += 1) {
        connection.write(frame(context.random, index));
        frames += 1;
        // Let the socket drain now and then, as a client would.
        if (index % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
      const endedByServer = connection.endedBy === 'server';
      connection.destroy();
      return { frames, endedByServer };
    },
  };
}

/** Half-open connections, held for the whole phase: the gateway must not keep them forever. */
export interface HeldConnection {
  name: string;
  connection: RawTcp;
  /** Whether the gateway promises to end it by itself (its own timeouts), and after how long. */
  endsWithin: number | undefined;
}

export const HELD_KINDS = [
  'tcp-silent',
  'http-partial-request',
  'websocket-no-handshake',
  'websocket-partial-handshake',
  'websocket-partial-frame',
] as const;

export async function holdOpen(
  kind: (typeof HELD_KINDS)[number],
  context: AttackContext,
): Promise<HeldConnection> {
  switch (kind) {
    // No complete request headers: the HTTP server's headers timeout (10 s, checked every 30 s).
    case 'tcp-silent':
      return { name: kind, connection: await open(context), endsWithin: 40_000 };
    case 'http-partial-request': {
      const connection = await open(context);
      connection.write('GET /hub HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      return { name: kind, connection, endsWithin: 40_000 };
    }
    case 'websocket-no-handshake':
      // The handshake deadline (15 s).
      return { name: kind, connection: await upgraded(context), endsWithin: 15_000 };
    case 'websocket-partial-handshake': {
      const connection = await upgraded(context);
      connection.write(text('{"protocol":"messagepack","vers'));
      return { name: kind, connection, endsWithin: 15_000 };
    }
    case 'websocket-partial-frame': {
      // A frame that promises 1000 bytes and delivers 10: silent from then on (client timeout, 30 s).
      const connection = await connected(context, 'messagepack');
      connection.write(wsFrame(Opcode.Binary, Buffer.alloc(1000)).subarray(0, 16));
      return { name: kind, connection, endsWithin: 30_000 };
    }
  }
}
