import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';

export interface FakeRelayOptions {
  installationId: string;
  installationKey: string;
  /** `expires_in` of issued tokens, seconds. Default 86400, as Bitwarden's identity. */
  tokenLifetimeSeconds?: number;
}

/** One authenticated call to a `/push/*` route, body parsed from JSON. */
export interface RecordedRelayCall {
  method: string;
  path: string;
  body: unknown;
}

interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON-encoded when not a string. */
  body?: unknown;
  /** Never answer: the request hangs until the client gives up or the fake stops. */
  stall?: boolean;
}

type Validator = (body: Record<string, unknown>, installationId: string) => string | undefined;

const isString = (value: unknown): value is string => typeof value === 'string' && value !== '';
const isDeviceList = (value: unknown): boolean =>
  Array.isArray(value) && value.every((device) => isString((device as { id?: unknown } | null)?.id));

/** The relay's routes with the checks its request models make (PROTOCOL.md §7). */
const routes: Partial<Record<string, { method: string; validate: Validator }>> = {
  '/push/register': {
    method: 'POST',
    validate: (body) =>
      ['deviceId', 'pushToken', 'userId', 'identifier'].every((field) => isString(body[field])) &&
      typeof body['type'] === 'number'
        ? undefined
        : 'deviceId, pushToken, userId, type and identifier are required',
  },
  '/push/delete': {
    method: 'POST',
    validate: (body) => (isString(body['id']) ? undefined : 'id is required'),
  },
  '/push/add-organization': {
    method: 'PUT',
    validate: (body) =>
      isDeviceList(body['devices']) && isString(body['organizationId'])
        ? undefined
        : 'devices [{id}] and organizationId are required',
  },
  '/push/delete-organization': {
    method: 'PUT',
    validate: (body) =>
      isDeviceList(body['devices']) && isString(body['organizationId'])
        ? undefined
        : 'devices [{id}] and organizationId are required',
  },
  '/push/send': {
    method: 'POST',
    validate: (body, installationId) => {
      if (
        typeof body['type'] !== 'number' ||
        typeof body['payload'] !== 'object' ||
        body['payload'] === null
      ) {
        return 'type and payload are required';
      }
      if (
        !isString(body['userId']) &&
        !isString(body['organizationId']) &&
        !isString(body['installationId'])
      ) {
        return 'userId, organizationId or installationId is required';
      }
      if (body['installationId'] !== undefined && body['installationId'] !== installationId) {
        return 'installationId does not match the caller';
      }
      return undefined;
    },
  },
};

/**
 * Bitwarden's push relay and the identity token endpoint in front of it, on one loopback base URL.
 * `/connect/token` takes the installation's client credentials and issues opaque bearer tokens;
 * the five `/push/*` routes check the token and the body, record the call, and answer 200 unless
 * a response is scripted. Refusals look like the real ones: `400 {"error":"invalid_client"}` from
 * identity, `401` with `WWW-Authenticate: Bearer` from the relay, `400 {"message"}` for a bad body.
 */
export class FakeRelay {
  readonly calls: RecordedRelayCall[] = [];
  /** Every `/connect/token` request, accepted or not. */
  tokenRequests = 0;
  private readonly tokens = new Map<string, number>();
  private readonly script: ScriptedResponse[] = [];
  private readonly tokenScript: ScriptedResponse[] = [];

  private constructor(
    private readonly server: Server,
    private readonly baseUri: string,
    private readonly options: FakeRelayOptions,
  ) {}

  static async start(options: FakeRelayOptions): Promise<FakeRelay> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeRelay(server, `http://127.0.0.1:${port}`, options);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      fake.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500).end(String(error));
      });
    });
    return fake;
  }

  get identityUri(): string {
    return this.baseUri;
  }

  get relayUri(): string {
    return this.baseUri;
  }

  /** Queues the answer to the next authenticated, valid `/push/*` call (first in, first out); default 200. */
  respondWith(status: number, headers?: Record<string, string>, body?: unknown): this {
    this.script.push({ status, headers, body });
    return this;
  }

  /** The next authenticated, valid `/push/*` call gets no answer (it is still recorded). */
  stallNext(): this {
    this.script.push({ status: 0, stall: true });
    return this;
  }

  /** Queues the answer to the next `/connect/token` request, given before any credential check. */
  respondToTokenWith(status: number, headers?: Record<string, string>, body?: unknown): this {
    this.tokenScript.push({ status, headers, body });
    return this;
  }

  /** Invalidates every issued access token, as a key rotation or an early expiry would. */
  revokeAccessTokens(): void {
    this.tokens.clear();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readText(request);
    const [path = ''] = (request.url ?? '/').split('?');
    if (path === '/connect/token') return this.issueToken(request, text, response);

    const route = routes[path];
    if (route === undefined) return send(response, { status: 404 });
    if (request.method !== route.method) return send(response, { status: 405 });

    const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiresAt = token === undefined ? undefined : this.tokens.get(token);
    if (expiresAt === undefined || expiresAt <= Date.now()) {
      return send(response, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    }

    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return send(response, { status: 415 });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return send(response, { status: 400, body: { message: 'body is not JSON' } });
    }
    const invalid =
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? route.validate(body as Record<string, unknown>, this.options.installationId)
        : 'body must be an object';
    if (invalid !== undefined)
      return send(response, { status: 400, body: { message: invalid, object: 'error' } });

    this.calls.push({ method: route.method, path, body });
    const scripted = this.script.shift() ?? { status: 200 };
    if (!scripted.stall) send(response, scripted);
  }

  private issueToken(request: IncomingMessage, text: string, response: ServerResponse): void {
    this.tokenRequests += 1;
    const scripted = this.tokenScript.shift();
    if (scripted !== undefined) return send(response, scripted);
    if (request.method !== 'POST') return send(response, { status: 405 });
    if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return send(response, { status: 400, body: { error: 'invalid_request' } });
    }

    const form = new URLSearchParams(text);
    if (form.get('grant_type') !== 'client_credentials') {
      return send(response, { status: 400, body: { error: 'unsupported_grant_type' } });
    }
    if (
      form.get('client_id') !== `installation.${this.options.installationId}` ||
      form.get('client_secret') !== this.options.installationKey
    ) {
      return send(response, { status: 400, body: { error: 'invalid_client' } });
    }
    if (form.get('scope') !== 'api.push')
      return send(response, { status: 400, body: { error: 'invalid_scope' } });

    const lifetime = this.options.tokenLifetimeSeconds ?? 86_400;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, Date.now() + lifetime * 1000);
    send(response, {
      status: 200,
      body: { access_token: token, expires_in: lifetime, token_type: 'Bearer', scope: 'api.push' },
    });
  }
}

function send(response: ServerResponse, { status, headers, body }: ScriptedResponse): void {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  response
    .writeHead(status, {
      ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
      ...headers,
    })
    .end(text);
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
