import { createDecipheriv, createECDH, type ECDH, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo } from 'node:net';

import { importJWK, type JWTPayload, jwtVerify } from 'jose';

/** What the fake push service accepted: verified VAPID, decrypted body. */
export interface RecordedPush {
  path: string;
  headers: IncomingHttpHeaders;
  /** The decrypted body, parsed as JSON. */
  body: unknown;
  ttl: number | undefined;
  urgency: string | undefined;
  /** The verified VAPID JWT claims and the `k` public key that signed them. */
  vapid: { claims: JWTPayload; publicKey: string };
  /** The status the fake answered (201 unless scripted). */
  status: number;
}

/** A push the fake refused before any script applied, with the check that failed. */
export interface RefusedPush {
  path: string;
  status: number;
  reason: string;
}

interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer: the request hangs until the client gives up or the fake stops. */
  stall?: boolean;
  /** Send the status line, headers and a first piece of body, then nothing more. */
  stallBody?: boolean;
  /** Stream a body of this many bytes, as fast as the client takes it. */
  bodyBytes?: number;
}

/** How a streamed answer (`respondWithBytes`) went: all of it, or cut off by the client. */
export interface StreamedAnswer {
  total: number;
  written: number;
  /** The client closed the connection before the whole body was written. */
  cutOff: boolean;
}

export interface FakeSubscription {
  endpoint: string;
  /** Unpadded base64url of the user agent's uncompressed P-256 public key. */
  p256dh: string;
  /** Unpadded base64url of the 16-byte authentication secret. */
  auth: string;
}

interface SubscriptionKeys {
  ecdh: ECDH;
  authSecret: Buffer;
}

/** RFC 8292 §2: a VAPID token must not be valid for more than 24 hours. */
const MAX_VAPID_LIFETIME_SECONDS = 24 * 60 * 60;

/**
 * A Web Push service (RFC 8030) on loopback that holds subscriptions like a browser's push service
 * would: it checks the VAPID signature (RFC 8292) and decrypts the aes128gcm body (RFC 8291) with
 * the subscription's private key, so a test sees exactly what the browser would hand the extension.
 * Unknown subscription paths answer 404. Plain HTTP: the sender under test must accept `http:`.
 */
export class FakeWebPushEndpoint {
  readonly pushes: RecordedPush[] = [];
  readonly refusals: RefusedPush[] = [];
  /** Every streamed answer once it is over. */
  readonly streamed: StreamedAnswer[] = [];
  private readonly subscriptions = new Map<string, SubscriptionKeys>();
  private readonly script: ScriptedResponse[] = [];
  private readonly stalled: ServerResponse[] = [];

  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  /**
   * Listens on 127.0.0.1. `hostname` names it in the subscriptions' endpoints (and the VAPID audience
   * it expects) instead of the address: a name the client under test must resolve to 127.0.0.1 itself.
   */
  static async start(options: { hostname?: string } = {}): Promise<FakeWebPushEndpoint> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeWebPushEndpoint(server, `http://${options.hostname ?? '127.0.0.1'}:${port}`);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      fake.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500).end(String(error));
      });
    });
    return fake;
  }

  /** A new subscription on this service, as `PushSubscription.toJSON()` would describe it. */
  subscription(path = `/push/${randomUUID()}`): FakeSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const authSecret = randomBytes(16);
    this.subscriptions.set(path, { ecdh, authSecret });
    return {
      endpoint: `${this.origin}${path}`,
      p256dh: ecdh.getPublicKey().toString('base64url'),
      auth: authSecret.toString('base64url'),
    };
  }

  /** Queues the answer to the next verified push (first in, first out); default 201. */
  respondWith(status: number, headers?: Record<string, string>, body?: string): this {
    this.script.push({ status, headers, body });
    return this;
  }

  /** The next verified push gets no answer until the client gives up or the fake stops. */
  stallNext(): this {
    this.script.push({ status: 0, stall: true });
    return this;
  }

  /** Answers every push held by `stallNext` so far, with `status`. */
  answerStalled(status = 201): void {
    for (const response of this.stalled.splice(0)) response.writeHead(status).end();
  }

  /** The next verified push gets its status and a first piece of body, and then nothing. */
  stallBodyNext(status: number): this {
    this.script.push({ status, stallBody: true });
    return this;
  }

  /** The next verified push is answered with a body of `bytes` bytes; see `streamed`. */
  respondWithBytes(status: number, bytes: number): this {
    this.script.push({ status, bodyBytes: bytes });
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = request.url ?? '/';
    const body = await readBody(request);
    const refuse = (status: number, reason: string): void => {
      this.refusals.push({ path, status, reason });
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ reason }));
    };

    if (request.method !== 'POST') return refuse(405, `method ${request.method} not allowed`);
    const keys = this.subscriptions.get(path);
    if (keys === undefined) return refuse(404, 'no such subscription');

    const vapid = await this.verifyVapid(request.headers.authorization);
    if (typeof vapid === 'string') return refuse(401, vapid);

    const ttl = request.headers.ttl === undefined ? undefined : Number(request.headers.ttl);
    if (ttl === undefined || !Number.isInteger(ttl) || ttl < 0)
      return refuse(400, 'TTL header missing or invalid');
    const urgency = request.headers.urgency;
    if (urgency !== undefined && !['very-low', 'low', 'normal', 'high'].includes(urgency as string)) {
      return refuse(400, `invalid Urgency ${String(urgency)}`);
    }
    if (request.headers['content-encoding'] !== 'aes128gcm')
      return refuse(415, 'Content-Encoding must be aes128gcm');
    if (body.length > 4096) return refuse(413, 'body larger than 4096 bytes');

    let plaintext: unknown;
    try {
      plaintext = JSON.parse(decryptAes128gcm(body, keys).toString('utf8'));
    } catch (error) {
      return refuse(400, `cannot decrypt: ${error instanceof Error ? error.message : String(error)}`);
    }

    const scripted = this.script.shift() ?? { status: 201 };
    this.pushes.push({
      path,
      headers: request.headers,
      body: plaintext,
      ttl,
      urgency: urgency as string | undefined,
      vapid,
      status: scripted.status,
    });
    if (scripted.stall) {
      this.stalled.push(response);
      return;
    }
    response.writeHead(scripted.status, {
      ...(scripted.status === 201 ? { location: `${this.origin}/message/${randomUUID()}` } : {}),
      ...scripted.headers,
    });
    if (scripted.stallBody) {
      response.write('{"message": "still writing');
      return;
    }
    if (scripted.bodyBytes !== undefined) return this.stream(response, scripted.bodyBytes);
    response.end(scripted.body ?? '');
  }

  /** Writes `total` bytes as fast as the client reads them, and records how far it got. */
  private stream(response: ServerResponse, total: number): void {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    let over = false;
    const finish = (cutOff: boolean) => {
      if (over) return;
      over = true;
      this.streamed.push({ total, written, cutOff });
    };
    response.on('close', () => finish(written < total || !response.writableFinished));
    const more = (): void => {
      while (!over && written < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - written));
        written += piece.length;
        if (!response.write(piece)) {
          response.once('drain', more);
          return;
        }
      }
      if (!over) response.end(() => finish(false));
    };
    more();
  }

  /** RFC 8292 §3: `Authorization: vapid t=<ES256 JWT>, k=<uncompressed P-256 public key>`. */
  private async verifyVapid(
    authorization: string | undefined,
  ): Promise<{ claims: JWTPayload; publicKey: string } | string> {
    const credential = /^vapid\s+(.+)$/i.exec(authorization ?? '')?.[1];
    if (credential === undefined) return 'Authorization is not a vapid credential';
    const params = new Map<string, string>();
    for (const part of credential.split(',')) {
      const [name = '', ...value] = part.trim().split('=');
      params.set(name.toLowerCase(), value.join('='));
    }
    const token = params.get('t');
    const publicKey = params.get('k');
    if (!token || !publicKey) return 'vapid credential needs t and k';

    const point = Buffer.from(publicKey, 'base64url');
    if (point.length !== 65 || point[0] !== 0x04) return 'k is not an uncompressed P-256 point';
    try {
      const key = await importJWK(
        {
          kty: 'EC',
          crv: 'P-256',
          x: point.subarray(1, 33).toString('base64url'),
          y: point.subarray(33).toString('base64url'),
        },
        'ES256',
      );
      const { payload, protectedHeader } = await jwtVerify(token, key, {
        algorithms: ['ES256'],
        audience: this.origin,
        requiredClaims: ['exp', 'sub'],
      });
      if (protectedHeader.typ !== undefined && protectedHeader.typ.toUpperCase() !== 'JWT')
        return 'JWT typ is not JWT';
      if ((payload.exp ?? 0) > Date.now() / 1000 + MAX_VAPID_LIFETIME_SECONDS)
        return 'JWT exp is more than 24 h away';
      if (!/^(mailto:|https:)/.test(String(payload.sub))) return 'JWT sub is not a mailto: or https: URL';
      return { claims: payload, publicKey };
    } catch (error) {
      return `VAPID JWT refused: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}

/**
 * RFC 8188 aes128gcm content coding with the RFC 8291 key derivation: header
 * `salt(16) | rs(4) | idlen(1) | keyid (the sender's ephemeral public key)`, then records of `rs`
 * bytes, each AES-128-GCM with a per-record nonce, padded with a 0x01 (more) or 0x02 (last) delimiter.
 */
function decryptAes128gcm(body: Buffer, { ecdh, authSecret }: SubscriptionKeys): Buffer {
  if (body.length < 21) throw new Error('body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body.readUInt8(20);
  const senderPublicKey = body.subarray(21, 21 + idLength);
  if (idLength !== 65) throw new Error(`keyid is ${idLength} bytes, expected a 65-byte P-256 point`);
  if (recordSize < 18) throw new Error(`record size ${recordSize} is too small`);

  const sharedSecret = ecdh.computeSecret(senderPublicKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), senderPublicKey]);
  const inputKey = Buffer.from(hkdfSync('sha256', sharedSecret, authSecret, keyInfo, 32));
  const contentKey = Buffer.from(
    hkdfSync('sha256', inputKey, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16),
  );
  const baseNonce = Buffer.from(
    hkdfSync('sha256', inputKey, salt, Buffer.from('Content-Encoding: nonce\0'), 12),
  );

  const records = body.subarray(21 + idLength);
  if (records.length === 0) throw new Error('no records');
  const plaintext: Buffer[] = [];
  for (let offset = 0, sequence = 0; offset < records.length; offset += recordSize, sequence += 1) {
    const record = records.subarray(offset, offset + recordSize);
    if (record.length < 17) throw new Error(`record ${sequence} is truncated`);
    const nonce = Buffer.from(baseNonce);
    // The record sequence number is XORed into the nonce's low-order bytes (RFC 8188 §2.3).
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ sequence) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', contentKey, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);

    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end -= 1;
    const isLast = offset + recordSize >= records.length;
    if (padded[end] !== (isLast ? 0x02 : 0x01))
      throw new Error(`record ${sequence} has a wrong padding delimiter`);
    plaintext.push(padded.subarray(0, end));
  }
  return Buffer.concat(plaintext);
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
