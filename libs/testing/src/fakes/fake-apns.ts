import { generateKeyPairSync, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import {
  createServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { type AddressInfo } from 'node:net';

import { decodeProtectedHeader, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';

/** An APNs token-signing key as Apple hands it out (.p8 PEM), with its ids. */
export interface FakeApnsKey {
  pem: string;
  keyId: string;
  teamId: string;
  publicKey: KeyObject;
}

/** A fresh EC P-256 key in PKCS#8 PEM, like a downloaded .p8, with a random 10-character key and team id. */
export function fakeApnsKey(): FakeApnsKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const id = () => randomBytes(5).toString('hex').toUpperCase();
  return {
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    keyId: id(),
    teamId: id(),
    publicKey,
  };
}

/** What the fake APNs received on `/3/device/<token>`, after it accepted the credentials and headers. */
export interface ApnsReceived {
  deviceToken: string;
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON. */
  body: unknown;
  /** The body exactly as it arrived. */
  raw: string;
  providerToken: { header: ProtectedHeaderParameters; claims: JWTPayload };
}

export interface FakeApnsOptions {
  /** The key whose provider tokens it accepts; a new one by default. */
  key?: FakeApnsKey;
  /** The bundle id its device tokens belong to. Default `com.example.herald`. */
  topic?: string;
}

interface ScriptedResponse {
  status: number;
  reason?: string;
  retryAfter?: string;
  stall?: boolean;
}

const pushTypes = new Set(['alert', 'background', 'location', 'voip', 'complication', 'fileprovider', 'mdm']);

/**
 * A local APNs provider API: HTTP/2 cleartext (h2c) on 127.0.0.1. Verifies each request as APNs
 * does (ES256 provider token signed by `key` with its kid and team id and at most an hour old,
 * apns-topic, apns-push-type, priority, device token in the path), records it and answers from a
 * script, by default 200 with an `apns-id`. Errors carry `{"reason": ...}` bodies.
 */
export class FakeApns {
  readonly received: ApnsReceived[] = [];
  /** HTTP/2 sessions (connections) accepted so far. */
  sessions = 0;

  private readonly script: ScriptedResponse[] = [];
  private readonly open = new Set<Http2Session>();

  private constructor(
    private readonly server: Http2Server,
    readonly key: FakeApnsKey,
    readonly topic: string,
  ) {}

  static async start(options: FakeApnsOptions = {}): Promise<FakeApns> {
    const server = createServer();
    const fake = new FakeApns(server, options.key ?? fakeApnsKey(), options.topic ?? 'com.example.herald');
    server.on('session', (session: Http2Session) => {
      fake.sessions++;
      fake.open.add(session);
      session.on('close', () => fake.open.delete(session));
      session.on('error', () => undefined);
    });
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      stream.on('error', () => undefined);
      fake.handle(stream, headers).catch(() => {
        if (!stream.headersSent && !stream.destroyed) stream.respond({ ':status': 500 }, { endStream: true });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** What `ApnsOptions.host` takes. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next accepted request answers this; queued in order. */
  respondWith(status: number, reason?: string, retryAfter?: string): this {
    this.script.push({ status, reason, retryAfter });
    return this;
  }

  /** The next accepted request is recorded but never answered (for timeouts). */
  stallNext(): this {
    this.script.push({ status: 0, stall: true });
    return this;
  }

  /** Closes every open connection with GOAWAY, as APNs does when it recycles a connection. */
  dropConnections(): void {
    for (const session of this.open) session.close();
  }

  async stop(): Promise<void> {
    for (const session of this.open) session.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const raw = await readBody(stream);
    const refuse = (status: number, reason: string) => this.answer(stream, { status, reason });
    if (headers[':method'] !== 'POST') return refuse(405, 'MethodNotAllowed');
    const encodedToken = /^\/3\/device\/([^/?]*)$/.exec(headers[':path'] ?? '')?.[1];
    if (encodedToken === undefined) return refuse(404, 'BadPath');
    const deviceToken = decodeURIComponent(encodedToken);
    if (!deviceToken) return refuse(400, 'MissingDeviceToken');
    if (!/^[0-9a-fA-F]+$/.test(deviceToken)) return refuse(400, 'BadDeviceToken');

    const jwt = /^bearer (.+)$/i.exec(headers.authorization ?? '')?.[1];
    if (!jwt) return refuse(403, 'MissingProviderToken');
    const providerToken = await this.verifyProviderToken(jwt);
    if (typeof providerToken === 'string') return refuse(403, providerToken);

    const topic = headers['apns-topic'];
    if (!topic) return refuse(400, 'MissingTopic');
    if (topic !== this.topic) return refuse(400, 'DeviceTokenNotForTopic');
    const pushType = String(headers['apns-push-type'] ?? '');
    if (!pushTypes.has(pushType)) return refuse(400, 'InvalidPushType');
    const priority = String(headers['apns-priority'] ?? '10');
    if (!['1', '5', '10'].includes(priority) || (pushType === 'background' && priority === '10')) {
      return refuse(400, 'BadPriority');
    }
    if (raw === '') return refuse(400, 'PayloadEmpty');
    if (Buffer.byteLength(raw) > 4096) return refuse(413, 'PayloadTooLarge');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      // Apple documents no reason for malformed JSON; the closest one it does document.
      return refuse(400, 'PayloadEmpty');
    }
    this.received.push({ deviceToken, headers, body, raw, providerToken });
    const next = this.script.shift();
    if (next?.stall) return; // left open until stop()
    this.answer(stream, next ?? { status: 200 }, headers['apns-id']);
  }

  /** The token's header and claims, or the reason APNs would give for refusing it. */
  private async verifyProviderToken(jwt: string): Promise<ApnsReceived['providerToken'] | string> {
    try {
      const header = decodeProtectedHeader(jwt);
      if (header.alg !== 'ES256' || header.kid !== this.key.keyId) return 'InvalidProviderToken';
      const { payload } = await jwtVerify(jwt, this.key.publicKey, { algorithms: ['ES256'] });
      if (payload.iss !== this.key.teamId || typeof payload.iat !== 'number') return 'InvalidProviderToken';
      if (payload.iat < Date.now() / 1000 - 3600) return 'ExpiredProviderToken';
      return { header, claims: payload };
    } catch {
      return 'InvalidProviderToken';
    }
  }

  private answer(stream: ServerHttp2Stream, response: ScriptedResponse, apnsId?: string | string[]): void {
    if (stream.destroyed) return;
    const id = typeof apnsId === 'string' ? apnsId : randomUUID().toUpperCase();
    if (response.status === 200) {
      stream.respond({ ':status': 200, 'apns-id': id }, { endStream: true });
      return;
    }
    stream.respond({
      ':status': response.status,
      'apns-id': id,
      'content-type': 'application/json',
      ...(response.retryAfter ? { 'retry-after': response.retryAfter } : {}),
    });
    const body: Record<string, unknown> = { reason: response.reason ?? 'InternalServerError' };
    if (response.status === 410) body['timestamp'] = Date.now();
    stream.end(JSON.stringify(body));
  }
}

function readBody(stream: ServerHttp2Stream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}
