import { type Unsubscribe } from './deliveries';

/** WIRE SHAPE: a gateway's answer about one of its connections. */
export type ConnectionStatus = { state: 'open'; resumeSequence: number } | { state: 'closed' };

/**
 * Cluster-wide commands to every gateway (core NATS, not stored): a gateway that is down holds no
 * connections, so it has nothing to act on when it comes back. Guarantees:
 * - `disconnectUser` reaches every `onDisconnectUser` handler registered when it was sent (reasons
 *   are cut to 200 characters);
 * - `queryConnection` is request/reply with a deadline (500 ms on NATS): the answer of the one
 *   gateway registered under that id, or undefined when nobody answers in time (the gateway is
 *   gone) or the answer is unreadable.
 */
export interface ControlBus {
  /** Resolves once the broker has the message. */
  disconnectUser(userId: string, reason: string): Promise<void>;
  /** Resolves once the broker has registered the interest. */
  onDisconnectUser(handler: (userId: string, reason: string) => void): Promise<Unsubscribe>;
  /** Asks a gateway about one of its connections. */
  queryConnection(gatewayId: string, connectionId: string): Promise<ConnectionStatus | undefined>;
  /** Answers questions about this gateway's connections; resolves once the interest is registered. */
  onConnectionQuery(
    gatewayId: string,
    handler: (connectionId: string) => ConnectionStatus,
  ): Promise<Unsubscribe>;
}
export const CONTROL_BUS = Symbol('ControlBus');
