import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export interface MintOptions {
  /** Seconds from now; negative for an expired token. Default 3600. */
  expiresIn?: number;
  notBefore?: number;
  issuer?: string;
  /** Header typ; default `JWT` (Vaultwarden), Bitwarden Identity writes `at+jwt`. */
  typ?: string;
}

export interface IssuerOptions {
  issuer?: string;
  algorithm?: 'RS256' | 'ES256';
  /** Key id written in the token header and the JWKS; none by default (PEM deployments). */
  kid?: string;
}

type SigningKey = Parameters<SignJWT['sign']>[0];

/**
 * A signing key that mints Bitwarden-shaped access tokens for tests and local development, and
 * can serve itself as an OIDC authority (discovery document + JWKS) on loopback.
 */
export class TestIssuer {
  private server: Server | undefined;

  private constructor(
    private readonly privateKey: SigningKey,
    readonly publicKeyPem: string,
    readonly publicJwk: Record<string, unknown>,
    readonly issuer: string,
    readonly algorithm: 'RS256' | 'ES256',
    readonly kid: string | undefined,
  ) {}

  static async create(issuerOrOptions: string | IssuerOptions = {}): Promise<TestIssuer> {
    const options = typeof issuerOrOptions === 'string' ? { issuer: issuerOrOptions } : issuerOrOptions;
    const algorithm = options.algorithm ?? 'RS256';
    const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true });
    const jwk = {
      ...(await exportJWK(publicKey)),
      alg: algorithm,
      use: 'sig',
      ...(options.kid ? { kid: options.kid } : {}),
    };
    return new TestIssuer(
      privateKey,
      await exportSPKI(publicKey),
      jwk,
      options.issuer ?? 'http://localhost|login',
      algorithm,
      options.kid,
    );
  }

  async mint(claims: JWTPayload, options: MintOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT(claims)
      .setProtectedHeader({
        alg: this.algorithm,
        typ: options.typ ?? 'JWT',
        ...(this.kid ? { kid: this.kid } : {}),
      })
      .setIssuedAt(now)
      .setIssuer(options.issuer ?? this.issuer)
      .setExpirationTime(now + (options.expiresIn ?? 3600))
      .setJti(randomUUID());
    if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
    return jwt.sign(this.privateKey);
  }

  /** A token as a Bitwarden client holds it: scope api, amr Application. */
  userToken(userId: string, extra: JWTPayload = {}, options?: MintOptions): Promise<string> {
    return this.mint(
      {
        sub: userId,
        device: randomUUID(),
        devicetype: 'ChromeExtension',
        scope: ['api', 'offline_access'],
        amr: ['Application'],
        ...extra,
      },
      options,
    );
  }

  /** A token as the vault API holds it for `/send`: scope internal. */
  internalToken(options?: MintOptions): Promise<string> {
    return this.mint({ sub: 'internal.Api', client_id: 'internal.Api', scope: ['internal'] }, options);
  }

  /**
   * Serves `/.well-known/openid-configuration` and its JWKS on 127.0.0.1 and returns the
   * authority URL (what `HERALD_JWT_AUTHORITY` takes). The issuer's `iss` stays as configured.
   */
  async serveAuthority(): Promise<{ authority: string; jwksUrl: string }> {
    const server = createServer((request, response) => {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const path = new URL(request.url ?? '/', base).pathname;
      const json = (body: unknown) =>
        response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      if (path === '/.well-known/openid-configuration')
        json({ issuer: this.issuer, jwks_uri: `${base}/.well-known/jwks` });
      else if (path === '/.well-known/jwks') json({ keys: [this.publicJwk] });
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { authority: base, jwksUrl: `${base}/.well-known/jwks` };
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
