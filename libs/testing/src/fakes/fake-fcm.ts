import { generateKeyPairSync, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';

import { decodeJwt, type JWTPayload, jwtVerify } from 'jose';

/** What the fake FCM received on `messages:send`, as sent. */
export interface FcmReceived {
  project: string;
  token: string;
  data: Record<string, string>;
  android: unknown;
  /** The request body exactly as it arrived. */
  raw: string;
  /** The status the fake answered (undefined while a stalled request is left open). */
  answered?: number;
}

interface ScriptedResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  stall?: boolean;
}

interface KnownAccount {
  projectId: string;
  publicKey: KeyObject;
}

const messagingScope = 'https://www.googleapis.com/auth/firebase.messaging';
const jwtBearer = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * A local FCM HTTP v1 API plus Google's OAuth2 token endpoint on 127.0.0.1. The token endpoint
 * verifies JWT-bearer assertions (RS256 signature with the key of a service account made by
 * `fakeServiceAccount`, `aud`, `scope`, lifetime) and issues access tokens; `messages:send` accepts
 * only those tokens, validates the message as FCM does (data values must be strings), records it
 * and answers from a script, by default 200 `{"name": "projects/<p>/messages/<n>"}`.
 */
export class FakeFcm {
  readonly received: FcmReceived[] = [];
  /** Claims of every assertion the token endpoint accepted. */
  readonly assertions: JWTPayload[] = [];
  /** How many requests reached the token endpoint, accepted or not. */
  tokenRequests = 0;
  /** `expires_in` of the access tokens issued from now on. */
  tokenLifetimeSeconds = 3599;

  private readonly script: ScriptedResponse[] = [];
  private downUntil = 0;
  /** `messages:send` requests answered 503 during an outage (`downFor`). */
  outageAnswers = 0;
  private readonly accounts = new Map<string, KnownAccount>();
  private readonly accessTokens = new Map<string, { projectId: string; expiresAt: number }>();
  private messageCount = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeFcm> {
    const server = createServer();
    const fake = new FakeFcm(server);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      fake.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500).end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** Base URL: what `FcmOptions.apiUrl` takes. */
  get apiUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** What `FcmOptions.tokenUrl` takes (and the `aud` the assertions must carry). */
  get tokenUrl(): string {
    return `${this.apiUrl}/token`;
  }

  /** A service-account JSON text with a fresh RSA key that this fake trusts. */
  fakeServiceAccount(projectId = 'herald-test'): string {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const clientEmail = `herald-${randomBytes(4).toString('hex')}@${projectId}.iam.gserviceaccount.com`;
    this.accounts.set(clientEmail, { projectId, publicKey });
    return JSON.stringify({
      type: 'service_account',
      project_id: projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: clientEmail,
      client_id: String(Date.now()),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: this.tokenUrl,
    });
  }

  /** The next `messages:send` (after authentication) answers this; queued in order. */
  respondWith(status: number, body?: unknown, headers?: Record<string, string>): this {
    this.script.push({ status, body, headers });
    return this;
  }

  /** Every `messages:send` answers 503 UNAVAILABLE for the next `ms` milliseconds (an outage). */
  downFor(ms: number): this {
    this.downUntil = Date.now() + ms;
    return this;
  }

  /** The next `messages:send` is recorded but never answered (for timeouts). */
  stallNext(): this {
    this.script.push({ status: 0, stall: true });
    return this;
  }

  /** Every access token issued so far is refused from now on (401), as after a revocation. */
  revokeAccessTokens(): void {
    this.accessTokens.clear();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const path = new URL(request.url ?? '/', this.apiUrl).pathname;
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
      response
        .writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers })
        .end(JSON.stringify(value));
    if (request.method === 'POST' && path === '/token') {
      this.tokenRequests++;
      const result = await this.grant(body);
      if ('error' in result) json(400, result);
      else json(200, result);
      return;
    }
    const encodedProject = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path)?.[1];
    if (request.method !== 'POST' || encodedProject === undefined) {
      json(404, googleError(404, 'NOT_FOUND', 'Not Found'));
      return;
    }
    const project = decodeURIComponent(encodedProject);
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const issued = bearer ? this.accessTokens.get(bearer) : undefined;
    if (!issued || issued.expiresAt <= Date.now()) {
      json(401, googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'), {
        'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
      });
      return;
    }
    if (issued.projectId !== project) {
      json(403, googleError(403, 'PERMISSION_DENIED', `Permission denied on project ${project}`));
      return;
    }
    const invalid = validateMessage(body);
    if (typeof invalid === 'string') {
      json(400, googleError(400, 'INVALID_ARGUMENT', invalid));
      return;
    }
    const entry: FcmReceived = { project, ...invalid, raw: body };
    this.received.push(entry);
    if (Date.now() < this.downUntil) {
      this.outageAnswers += 1;
      entry.answered = 503;
      json(503, googleError(503, 'UNAVAILABLE', 'The service is currently unavailable.'));
      return;
    }
    const next = this.script.shift();
    if (next?.stall) return; // left open until stop()
    if (next) {
      entry.answered = next.status;
      json(next.status, next.body ?? {}, next.headers);
      return;
    }
    entry.answered = 200;
    json(200, { name: `projects/${project}/messages/${++this.messageCount}` });
  }

  private async grant(body: string): Promise<Record<string, unknown>> {
    const refuse = (error: string, description: string) => ({ error, error_description: description });
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== jwtBearer) return refuse('unsupported_grant_type', 'Invalid grant_type');
    const assertion = form.get('assertion') ?? '';
    let issuer: unknown;
    try {
      issuer = decodeJwt(assertion).iss;
    } catch {
      return refuse('invalid_request', 'Invalid JWT');
    }
    const account = typeof issuer === 'string' ? this.accounts.get(issuer) : undefined;
    if (!account) return refuse('invalid_grant', 'Invalid grant: account not found');
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(assertion, account.publicKey, {
        algorithms: ['RS256'],
        audience: this.tokenUrl,
        requiredClaims: ['iat', 'exp'],
      }));
    } catch (error) {
      return refuse('invalid_grant', `Invalid JWT: ${(error as Error).message}`);
    }
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || claims.exp - claims.iat > 3600) {
      return refuse('invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes)');
    }
    const scopes = typeof claims['scope'] === 'string' ? claims['scope'].split(' ') : [];
    if (!scopes.includes(messagingScope)) return refuse('invalid_scope', 'Invalid OAuth scope');
    this.assertions.push(claims);
    const accessToken = `ya29.fake-${randomUUID()}`;
    this.accessTokens.set(accessToken, {
      projectId: account.projectId,
      expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000,
    });
    return { access_token: accessToken, expires_in: this.tokenLifetimeSeconds, token_type: 'Bearer' };
  }
}

function validateMessage(body: string): Omit<FcmReceived, 'project' | 'raw'> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'Invalid JSON payload received.';
  }
  const message = (parsed as { message?: Record<string, unknown> } | null)?.message;
  if (!message || typeof message !== 'object') return 'Request contains an invalid argument.';
  if (typeof message.token !== 'string' || message.token === '') {
    return 'Recipient of the message is not set.';
  }
  const data = message.data ?? {};
  if (typeof data !== 'object' || data === null) return "Invalid value at 'message.data'";
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string') return `Invalid value at 'message.data[${key}].value' (TYPE_STRING)`;
  }
  return { token: message.token, data: data as Record<string, string>, android: message.android };
}

function googleError(code: number, status: string, message: string): unknown {
  return { error: { code, message, status } };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
