import { type ConnectionStatus, type ControlBus, type Unsubscribe } from '../ports';
import { type MemoryCore } from './memory-core';

/**
 * The control bus within one process. Answers are copied, as if they had crossed the wire; a
 * handler that throws or answers something unreadable counts as no answer.
 */
export class MemoryControlBus implements ControlBus {
  private readonly disconnectHandlers = new Set<(userId: string, reason: string) => void>();
  /** Gateway id -> answering handlers; the first registered answers (the fastest responder). */
  private readonly queryHandlers = new Map<string, ((connectionId: string) => ConnectionStatus)[]>();

  constructor(private readonly core: MemoryCore) {}

  disconnectUser(userId: string, reason: string): Promise<void> {
    this.core.names.subjects.disconnectUser(userId); // refuses ids NATS could not carry, alike
    const cut = reason.slice(0, 200);
    for (const handler of [...this.disconnectHandlers]) {
      try {
        handler(userId, cut);
      } catch (error) {
        this.core.logger?.error({ err: error }, 'disconnect handler failed');
      }
    }
    return Promise.resolve();
  }

  onDisconnectUser(handler: (userId: string, reason: string) => void): Promise<Unsubscribe> {
    const entry = (userId: string, reason: string) => handler(userId, reason);
    this.disconnectHandlers.add(entry);
    return Promise.resolve(() => this.disconnectHandlers.delete(entry));
  }

  queryConnection(gatewayId: string, connectionId: string): Promise<ConnectionStatus | undefined> {
    const handler = this.queryHandlers.get(gatewayId)?.[0];
    if (!handler) return Promise.resolve(undefined); // no responder: the gateway is gone
    try {
      const status: unknown = JSON.parse(JSON.stringify(handler(connectionId)));
      return Promise.resolve(isConnectionStatus(status) ? status : undefined);
    } catch {
      return Promise.resolve(undefined);
    }
  }

  onConnectionQuery(
    gatewayId: string,
    handler: (connectionId: string) => ConnectionStatus,
  ): Promise<Unsubscribe> {
    this.core.names.subjects.connectionQuery(gatewayId);
    const entry = (connectionId: string) => handler(connectionId);
    const handlers = this.queryHandlers.get(gatewayId) ?? [];
    handlers.push(entry);
    this.queryHandlers.set(gatewayId, handlers);
    return Promise.resolve(() => {
      const index = handlers.indexOf(entry);
      if (index >= 0) handlers.splice(index, 1);
      if (handlers.length === 0 && this.queryHandlers.get(gatewayId) === handlers) {
        this.queryHandlers.delete(gatewayId);
      }
    });
  }
}

function isConnectionStatus(value: unknown): value is ConnectionStatus {
  if (typeof value !== 'object' || value === null) return false;
  const { state, resumeSequence } = value as { state?: unknown; resumeSequence?: unknown };
  return state === 'closed' || (state === 'open' && typeof resumeSequence === 'number');
}
