import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpTransportType, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { WebSocket } from 'ws';

import {
  deleteNamespace,
  eventually,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
} from '@herald/testing';

/** HTTPS/WSS served directly, CORS, security headers: what a browser and a proxy see. */
describe('the gateway edge', () => {
  const namespace = testNamespace('edge');
  const directory = mkdtempSync(join(tmpdir(), 'herald-tls-'));
  const certPath = join(directory, 'cert.pem');
  const keyPath = join(directory, 'key.pem');
  let ca: string;
  let issuer: TestIssuer;
  let gateway: ServiceProcess;
  let dispatcher: ServiceProcess;
  const origin = 'https://vault.example';

  /** One HTTPS request that trusts the test certificate. */
  const https = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
      (resolve, reject) => {
        const request = httpsRequest(
          `https://localhost:${gateway.port}${path}`,
          { method, headers, ca },
          (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () =>
              resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
            );
          },
        );
        request.on('error', reject);
        request.end(body);
      },
    );

  beforeAll(async () => {
    // A self-signed certificate for localhost, made for this run.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(certPath, 'utf8');
    issuer = await TestIssuer.create();
    const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
    [dispatcher, gateway] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('gateway', {
        ...env,
        HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
        HERALD_TLS_CERT: certPath,
        HERALD_TLS_KEY: keyPath,
        HERALD_CORS_ORIGINS: `${origin},http://localhost:8081`,
      }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([gateway?.stop(), dispatcher?.stop()]);
    await deleteNamespace(namespace);
    rmSync(directory, { recursive: true, force: true });
  });

  it('serves the hub over WSS to the real SignalR client, and /send over HTTPS', async () => {
    // The Node client opens its socket with `ws`; this subclass trusts the test certificate.
    class TrustingWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[], options?: Record<string, unknown>) {
        super(url, protocols, { ...options, ca });
      }
    }
    const userId = randomUUID();
    const token = await issuer.userToken(userId);
    const connection = new HubConnectionBuilder()
      .withUrl(`https://localhost:${gateway.port}/notifications/hub`, {
        transport: HttpTransportType.WebSockets,
        skipNegotiation: true,
        accessTokenFactory: () => token,
        // Honoured by the client (its Node path builds the socket with it), though not in its typings.
        ...{ WebSocket: TrustingWebSocket },
      })
      .withHubProtocol(new MessagePackHubProtocol())
      .configureLogging(LogLevel.None)
      .build();
    const received: unknown[] = [];
    connection.on('ReceiveMessage', (message: unknown) => received.push(message));
    await connection.start();
    try {
      const body = JSON.stringify({ type: 10, payload: { userId, date: new Date().toISOString() } });
      const send = async (authorization: string) =>
        (
          await https(
            'POST',
            '/notifications/send',
            { 'Content-Type': 'application/json', Authorization: authorization },
            body,
          )
        ).status;
      expect(await send('Bearer not-a-token')).toBe(401);
      expect(await send(`Bearer ${await issuer.internalToken()}`)).toBe(200);
      await eventually(() => expect(received).toEqual([expect.objectContaining({ Type: 10 })]));
    } finally {
      await connection.stop();
    }
  });

  it('answers CORS preflights for configured origins only, with credentials', async () => {
    const allowed = await https('OPTIONS', '/send', {
      Origin: origin,
      'Access-Control-Request-Method': 'POST',
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(origin);
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
    const refused = await https('OPTIONS', '/send', {
      Origin: 'https://evil.example',
      'Access-Control-Request-Method': 'POST',
    });
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends security headers and no X-Powered-By', async () => {
    const response = await https('GET', '/alive');
    expect(response.status).toBe(200);
    // helmet's default: one year, subdomains included, no preload.
    expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.headers['x-powered-by']).toBeUndefined();
  });

  it('never writes an access token to its logs', async () => {
    const token = await issuer.userToken(randomUUID(), { scope: ['offline_access'] });
    await https('GET', `/notifications/hub?access_token=${encodeURIComponent(token)}&other=1`);
    await https('POST', `/send?access_token=${encodeURIComponent(token)}`);
    // Both requests' log lines are written before the check, each with the token blanked.
    await eventually(() => {
      const output = gateway.rawOutput.join('\n');
      expect(output).toContain('/notifications/hub?access_token=[REDACTED]&other=1');
      expect(output).toContain('/send?access_token=[REDACTED]');
    });
    expect(gateway.rawOutput.join('\n')).not.toContain(token);
    expect(gateway.rawOutput.join('\n')).not.toContain(token.split('.')[2]);
  });
});
