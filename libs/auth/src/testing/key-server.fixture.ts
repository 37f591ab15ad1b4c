import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type JWK } from 'jose';

export type KeyServerMode = 'serve' | 'fail' | 'hang';

/**
 * A real HTTP server on 127.0.0.1 shaped like Bitwarden Identity: an OIDC discovery document under
 * /identity and the JWKS it points to. Tests swap keys and modes, and read the request log.
 */
export class KeyServer {
  keys: JWK[] = [];
  mode: KeyServerMode = 'serve';
  readonly requests: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(): Promise<KeyServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const keyServer = new KeyServer(server, `http://127.0.0.1:${port}`);
    server.on('request', (request: IncomingMessage, response: ServerResponse) =>
      keyServer.handle(request, response),
    );
    return keyServer;
  }

  get authority(): string {
    return `${this.baseUrl}/identity`;
  }

  get jwksUrl(): string {
    return `${this.baseUrl}/identity/.well-known/openid-configuration/jwks`;
  }

  count(path: string): number {
    return this.requests.filter((requested) => requested === path).length;
  }

  close(): Promise<void> {
    // Hanging requests would otherwise keep the server open.
    this.server.closeAllConnections();
    return new Promise((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', this.baseUrl).pathname;
    this.requests.push(path);
    if (this.mode === 'hang') {
      return;
    }
    if (this.mode === 'fail') {
      response.writeHead(503).end();
      return;
    }
    if (path === '/identity/.well-known/openid-configuration') {
      this.json(response, { issuer: this.authority, jwks_uri: this.jwksUrl });
    } else if (path === '/identity/.well-known/openid-configuration/jwks') {
      this.json(response, { keys: this.keys });
    } else {
      response.writeHead(404).end();
    }
  }

  private json(response: ServerResponse, body: unknown): void {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}
