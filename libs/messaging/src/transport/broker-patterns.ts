import { type PushLane } from '../ports';

/**
 * The `@EventPattern` names of the broker transport, one per competing consumer. They never
 * travel on the wire, but each stands for a durable consumer that does (`dispatcher` on EVENTS,
 * `push-resolver`, `push-sender` and `push-relay` on PUSH): a pattern names which one a handler
 * serves, and renaming one leaves handlers that no consumer feeds.
 */
export const BrokerPattern = {
  /** Vault events, through the `EventConsumer` port. */
  Events: 'events',
  /** Push jobs to resolve into devices (`PushConsumer` lane `job`). */
  PushJob: 'push.job',
  /** Pushes to one device (lane `device`). */
  PushDevice: 'push.device',
  /** Registration changes for Bitwarden's relay (lane `relay`). */
  PushRelay: 'push.relay',
} as const;
export type BrokerPattern = (typeof BrokerPattern)[keyof typeof BrokerPattern];

/** The push lane a pattern consumes, or undefined for vault events. */
export function laneOf(pattern: BrokerPattern): PushLane | undefined {
  switch (pattern) {
    case BrokerPattern.PushJob:
      return 'job';
    case BrokerPattern.PushDevice:
      return 'device';
    case BrokerPattern.PushRelay:
      return 'relay';
    case BrokerPattern.Events:
      return undefined;
  }
}

export function isBrokerPattern(value: string): value is BrokerPattern {
  return (Object.values(BrokerPattern) as string[]).includes(value);
}
