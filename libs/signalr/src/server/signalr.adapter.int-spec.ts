import 'reflect-metadata';

import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type INestApplication, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { pino } from 'pino';
import { WebSocket } from 'ws';

import { eventually } from '@herald/testing';

import { type HubConnection } from './hub-connection';
import { type AuthorizeResult } from './hub-definition';
import { SignalRAdapter } from './signalr.adapter';
import { type SignalRGateway, type SignalRGatewayOptions, type UpgradeAuthorizer } from './signalr-gateway';
import { SignalRServer } from './signalr-server';

const JSON_HANDSHAKE = '{"protocol":"json","version":1}\x1e';

@Injectable()
class TestAuthorizer implements UpgradeAuthorizer<string> {
  reserved = 0;

  authorize(request: { headers: Record<string, unknown> }): Promise<AuthorizeResult<string>> {
    const who = request.headers['x-who'];
    if (typeof who !== 'string') return Promise.resolve({ accept: false, status: 401, reason: 'who?' });
    this.reserved += 1;
    return Promise.resolve({ accept: true, identity: who, release: () => (this.reserved -= 1) });
  }
}

@WebSocketGateway<SignalRGatewayOptions>({
  hub: 'test',
  path: ['/test', '/prefix/test'],
  authorizer: TestAuthorizer,
})
class TestGateway implements SignalRGateway<string> {
  @WebSocketServer() server: SignalRServer | undefined;
  readonly connected: string[] = [];
  readonly disconnected: string[] = [];
  gate: Promise<void> = Promise.resolve();

  async handleConnection(connection: HubConnection<string>): Promise<void> {
    await this.gate;
    if (connection.identity === 'failing') throw new Error('setup failed');
    this.connected.push(connection.identity);
  }

  handleDisconnect(connection: HubConnection<string>): void {
    this.disconnected.push(connection.identity);
  }
}

@Module({
  providers: [
    TestAuthorizer,
    TestGateway,
    { provide: SignalRServer, useFactory: () => new SignalRServer(pino({ level: 'silent' })) },
  ],
})
class TestModule {}

/** Opens a WebSocket, sends the JSON handshake and collects text frames; rejects on an HTTP refusal. */
function open(
  url: string,
  who?: string,
): Promise<{ socket: WebSocket; frames: string[]; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: who ? { 'x-who': who } : {} });
    const frames: string[] = [];
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('message', (data: Buffer) => frames.push(data.toString()));
    socket.once('open', () => {
      socket.send(JSON_HANDSHAKE);
      resolve({ socket, frames, closed });
    });
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`HTTP ${response.statusCode}`)),
    );
    socket.once('error', reject);
  });
}

describe('SignalRAdapter', () => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    app = await NestFactory.create(TestModule, { logger: false });
    app.useWebSocketAdapter(new SignalRAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `ws://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app.close();
  });

  it('gives the gateway the server handle', () => {
    expect(app.get(TestGateway).server).toBe(app.get(SignalRServer));
  });

  it('refuses before the upgrade with the authorizer’s status, and 404 off the gateways’ paths', async () => {
    await expect(open(`${url}/test`)).rejects.toThrow('HTTP 401');
    await expect(open(`${url}/elsewhere`, 'a')).rejects.toThrow('HTTP 404');
    expect(app.get(TestAuthorizer).reserved).toBe(0);
  });

  it('answers the handshake only once handleConnection resolved, then reports the disconnect', async () => {
    const gateway = app.get(TestGateway);
    let release!: () => void;
    gateway.gate = new Promise((resolve) => (release = resolve));
    const client = await open(`${url}/prefix/test`, 'waiting');
    await eventually(() => expect(app.get(SignalRServer).connectionsOf('test')).toBe(1));
    expect(client.frames).toEqual([]);
    release();
    await eventually(() => expect(client.frames).toEqual(['{}\x1e']));
    expect(gateway.connected).toContain('waiting');
    client.socket.close();
    await client.closed;
    await eventually(() => expect(gateway.disconnected).toContain('waiting'));
    expect(app.get(TestAuthorizer).reserved).toBe(0);
  });

  it('refuses the handshake when handleConnection fails, and releases what was reserved', async () => {
    const gateway = app.get(TestGateway);
    gateway.gate = Promise.resolve();
    const client = await open(`${url}/test`, 'failing');
    await client.closed;
    expect(client.frames).toHaveLength(1);
    expect(JSON.parse(client.frames[0]!.slice(0, -1))).toEqual({
      error: 'The server could not set up the connection.',
    });
    await eventually(() => expect(app.get(TestAuthorizer).reserved).toBe(0));
    expect(gateway.disconnected).not.toContain('failing');
  });
});
