import {
  connect,
  DebugEvents,
  Events,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  type NatsConnection,
  type PubAck,
} from 'nats';
import { type Logger } from 'pino';

import { natsNames, type NatsNames, natsServersAndCredentials } from '@herald/contracts';
import { NextRound, SharedTurn } from '@herald/platform';

export type ConnectionChange = 'lost' | 'restored';

export interface NatsClientOptions {
  servers: string;
  namespace: string;
  /** Shown in `nats server report connections`; the service name and its instance. */
  name: string;
  logger: Logger;
}

/**
 * One NATS connection per process. Reconnects forever (subscriptions and consumers resume on
 * their own); `close` drains: pending publishes are flushed, subscriptions finish their
 * in-flight messages.
 */
export class NatsClient {
  private reconnects = 0;
  private disconnected = false;
  private readonly listeners = new Set<(state: ConnectionChange) => void>();
  private readonly flushRound = new NextRound(() => this.connection.flush());
  private readonly turn = new SharedTurn();

  private constructor(
    readonly connection: NatsConnection,
    readonly jetstream: JetStreamClient,
    readonly manager: JetStreamManager,
    readonly names: NatsNames,
    private readonly logger: Logger,
  ) {
    void this.watchStatus();
  }

  static async connect(options: NatsClientOptions): Promise<NatsClient> {
    const names = natsNames(options.namespace);
    const connection = await connect({
      ...natsServersAndCredentials(options.servers),
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: true,
      pingInterval: 10_000,
      // nats.js otherwise builds an Error (a stack capture) for every request, in case it fails:
      // a visible cost when thousands of clients connect at once. Failures still say what failed.
      noAsyncTraces: true,
    });
    const manager = await connection.jetstreamManager({ timeout: 10_000 });
    options.logger.info({ server: connection.getServer() }, 'connected to NATS');
    return new NatsClient(
      connection,
      connection.jetstream({ timeout: 10_000 }),
      manager,
      names,
      options.logger,
    );
  }

  /**
   * Resolves once the server has processed everything this client sent before the call (one
   * PING/PONG, shared by every caller in the same turn).
   */
  flush(): Promise<void> {
    return this.flushRound.run();
  }

  /**
   * Resolves in the next turn of the event loop with every other caller of this turn: requests
   * made right after it share one socket write. Hot paths (a storm of connects and closes) wait
   * for it before each request; a write per request costs more than the request itself.
   */
  nextTurn(): Promise<void> {
    return this.turn.next();
  }

  /**
   * A JetStream publish that waits for the turn: the deliveries, events and push jobs published
   * in one turn leave in one socket write (the dispatcher made one write per event before).
   */
  async publish(
    subject: string,
    data: Uint8Array,
    options: Partial<JetStreamPublishOptions>,
  ): Promise<PubAck> {
    await this.turn.next();
    return this.jetstream.publish(subject, data, options);
  }

  get connected(): boolean {
    return !this.connection.isClosed() && !this.connection.isDraining() && !this.disconnected;
  }

  get reconnectCount(): number {
    return this.reconnects;
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.connection.status()) {
      switch (status.type) {
        case Events.Disconnect:
          this.disconnected = true;
          this.logger.warn({ server: status.data }, 'disconnected from NATS');
          this.emit('lost');
          break;
        case Events.Reconnect:
          this.disconnected = false;
          this.reconnects += 1;
          this.logger.info({ server: status.data }, 'reconnected to NATS');
          this.emit('restored');
          break;
        case Events.Error:
          this.logger.error({ err: status.data }, 'NATS connection error');
          break;
        case DebugEvents.Reconnecting:
          this.logger.debug({ server: status.data }, 'reconnecting to NATS');
          break;
        default:
          break;
      }
    }
  }

  /**
   * Listens for the connection being lost and restored. After `restored`, subscriptions are live
   * again, but core messages published in between were not received.
   */
  onConnectionChange(listener: (state: ConnectionChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(state: ConnectionChange): void {
    for (const listener of this.listeners) {
      try {
        listener(state);
      } catch (error) {
        this.logger.error({ err: error }, 'connection listener failed');
      }
    }
  }

  /** Flushes pending publishes, lets subscriptions finish, then closes. Safe to call twice. */
  async close(): Promise<void> {
    if (this.connection.isClosed()) {
      return;
    }
    try {
      await this.connection.drain();
    } catch (error) {
      this.logger.warn({ err: error }, 'NATS drain failed; closing');
      await this.connection.close();
    }
  }
}
