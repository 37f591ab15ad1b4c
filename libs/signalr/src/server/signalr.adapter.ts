import { type Server } from 'node:http';

import { type INestApplication, type WebSocketAdapter } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';

import { CloseReason } from './close-reason';
import { type HubConnection } from './hub-connection';
import {
  hubOfGateway,
  type SignalRGateway,
  type SignalRGatewayOptions,
  signalRGatewayOptionsOf,
} from './signalr-gateway';
import { SignalRServer } from './signalr-server';

/**
 * Nest's `WebSocketAdapter` for SignalR hubs. Every `@WebSocketGateway<SignalRGatewayOptions>`
 * becomes a hub of the application's one `SignalRServer` provider, which owns the `upgrade`
 * event of the Nest HTTP(S) server for the hubs' paths: the gateway's authorizer decides before
 * the upgrade (refusals answered with their status), the server runs the SignalR handshake, and
 * the reply is written only once the gateway's `handleConnection` has resolved. Keep-alive,
 * timeouts, frame limits, slow-consumer closing and negotiate are the server's.
 *
 * Nest's own connection stream calls `handleConnection` and drops what it returns, so it cannot
 * hold a handshake until a hub has subscribed the connection's groups; this adapter therefore
 * calls the gateway's hooks itself (once each) and leaves Nest's connect callback unused.
 * Gateways expose no methods to clients: invocations are answered "unknown hub method".
 */
export class SignalRAdapter implements WebSocketAdapter<SignalRServer, HubConnection, SignalRGatewayOptions> {
  private readonly server: SignalRServer;
  private attached = false;

  constructor(private readonly app: INestApplication) {
    this.server = app.get(SignalRServer, { strict: false });
  }

  /** Called by Nest once per gateway: registers its hub and returns the `@WebSocketServer()` handle. */
  create(port: number, options?: SignalRGatewayOptions): SignalRServer {
    if (port !== 0) {
      throw new Error('SignalR gateways are served on the application’s own HTTP server (no port)');
    }
    if (!options?.hub || !options.authorizer || !Array.isArray(options.path)) {
      throw new Error('a SignalR gateway needs hub, path[] and authorizer in its options');
    }
    const authorizer = this.app.get(options.authorizer, { strict: false });
    this.server.addHub(hubOfGateway(options, this.gatewayOf(options.hub), authorizer));
    if (!this.attached) {
      this.attached = true;
      this.server.attach(this.app.getHttpServer() as Server);
    }
    return this.server;
  }

  bindClientConnect(): void {
    // The server calls the gateway's hooks itself (see the class comment).
  }

  bindMessageHandlers(): void {
    // No hub methods are exposed to clients.
  }

  close(server: SignalRServer): void {
    // Normally done already by the gateway's own shutdown hook, which tells clients to reconnect.
    void server.shutdown(CloseReason.ServerShutdown, true);
  }

  dispose(): void {
    // Nothing beyond `close`.
  }

  /** The gateway instance whose decorator names `hub`. */
  private gatewayOf(hub: string): SignalRGateway {
    for (const module of this.app.get(ModulesContainer).values()) {
      for (const wrapper of module.providers.values()) {
        if (!wrapper.metatype || !wrapper.instance) continue;
        if (signalRGatewayOptionsOf(wrapper.metatype)?.hub === hub) {
          return wrapper.instance as SignalRGateway;
        }
      }
    }
    throw new Error(`no gateway instance for hub ${hub}`);
  }
}
