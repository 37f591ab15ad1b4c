import { randomUUID } from 'node:crypto';

import { pino } from 'pino';

import { type AnyHeraldEvent, parseSendRequest, PushType } from '@herald/contracts';

import { NatsClient } from '../nats/nats-client';
import { DEFAULT_TOPOLOGY, ensureStreams, streamConfigs } from '../nats/topology';

export const silentLogger = pino({ level: 'silent' });

/** What the test bed needs from `@herald/testing` (passed in: a core lib may not import it). */
export interface NamespaceTools {
  servers: string;
  testNamespace: () => string;
  deleteNamespace: (namespace: string) => Promise<void>;
}

/**
 * The NATS clients and namespaces of one test file: each `namespace()` is fresh (streams and the
 * durable consumer start empty), `close()` in afterAll closes every client and deletes every namespace.
 */
export class NatsTestBed {
  private readonly namespaces = new Set<string>();
  private readonly clients: NatsClient[] = [];

  constructor(private readonly tools: NamespaceTools) {}

  /** A new namespace with the EVENTS, DELIVERIES and DEAD streams in place. */
  async namespace(): Promise<string> {
    const namespace = this.tools.testNamespace();
    this.namespaces.add(namespace);
    const client = await this.connect(namespace);
    await ensureStreams(client.manager, streamConfigs(client.names, DEFAULT_TOPOLOGY));
    return namespace;
  }

  /** Another connection to `namespace`, as a separate process would hold. */
  async connect(namespace: string): Promise<NatsClient> {
    this.namespaces.add(namespace);
    const client = await NatsClient.connect({
      servers: this.tools.servers,
      namespace,
      name: 'test',
      logger: silentLogger,
    });
    this.clients.push(client);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
    await Promise.all([...this.namespaces].map((namespace) => this.tools.deleteNamespace(namespace)));
  }
}

/** A valid SyncCiphers event with a fresh id, built the way `/send` builds events. */
export function sampleEvent(userId: string = randomUUID()): AnyHeraldEvent {
  const request = parseSendRequest({
    type: PushType.SyncCiphers,
    payload: { UserId: userId, Date: new Date().toISOString() },
    contextId: null,
  });
  return {
    id: randomUUID(),
    type: request.type,
    payload: request.payload,
    contextId: request.contextId,
    acceptedAt: new Date(),
  } as unknown as AnyHeraldEvent;
}
