/** Namespaces become part of subjects, stream, consumer and bucket names. */
const NAMESPACE = /^[A-Za-z0-9_-]{1,32}$/;
/** A subject token must not contain separators or wildcards. */
const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export type DeliveryKind = 'user' | 'org' | 'installation' | 'anon';

export function isValidNamespace(namespace: string): boolean {
  return NAMESPACE.test(namespace);
}

function token(value: string): string {
  if (!SUBJECT_TOKEN.test(value)) {
    throw new Error(`not usable in a NATS subject: ${JSON.stringify(value.slice(0, 64))}`);
  }
  return value;
}

/**
 * Every NATS name Herald uses, built in one place. WIRE NAMES: deployed gateways, dispatchers and
 * vault APIs must agree on every one of them; changing a name is a breaking change.
 */
export function natsNames(namespace: string) {
  if (!isValidNamespace(namespace)) {
    throw new Error(`namespace must match ${String(NAMESPACE)}, got ${JSON.stringify(namespace)}`);
  }
  const ns = namespace;
  return {
    namespace: ns,
    streams: {
      events: `${ns}_EVENTS`,
      deliveries: `${ns}_DELIVERIES`,
      push: `${ns}_PUSH`,
      dead: `${ns}_DEAD`,
      heartbeats: `${ns}_HEARTBEATS`,
    },
    consumers: {
      dispatcher: 'dispatcher',
      pushResolver: 'push-resolver',
      pushSender: 'push-sender',
      pushRelay: 'push-relay',
    },
    buckets: {
      gateways: `${ns}_gateways`,
      presence: `${ns}_presence`,
    },
    subjects: {
      eventsAll: `${ns}.events.>`,
      /** `type` is any push type 0-255, known to Herald or not. */
      event: (type: number) => `${ns}.events.${type}`,
      deliverAll: `${ns}.deliver.>`,
      deliver: (kind: DeliveryKind, id: string) => `${ns}.deliver.${kind}.${token(id)}`,
      pushAll: `${ns}.push.>`,
      /** Stage 1: one event for one target. */
      pushJob: `${ns}.push.job`,
      /** Stage 2: one push to one device. */
      pushDevice: `${ns}.push.device`,
      /** Registration changes forwarded to Bitwarden's relay. */
      pushRelay: `${ns}.push.relay`,
      deadAll: `${ns}.dead.>`,
      dead: (source: 'events' | 'push' | 'push-device' | 'push-relay') => `${ns}.dead.${source}`,
      heartbeat: (gatewayId: string) => `${ns}.heartbeat.${token(gatewayId)}`,
      heartbeatAll: `${ns}.heartbeat.>`,
      pushHeartbeat: (workerId: string) => `${ns}.heartbeat.push.${token(workerId)}`,
      /** An event source's beat (the Vaultwarden bridge). */
      bridgeHeartbeat: (bridgeId: string) => `${ns}.heartbeat.bridge.${token(bridgeId)}`,
      disconnectUser: (userId: string) => `${ns}.control.disconnect.user.${token(userId)}`,
      /** Request/reply: "do you still hold this connection, and up to where did it receive?" */
      connectionQuery: (gatewayId: string) => `${ns}.control.connection.${token(gatewayId)}`,
    },
  } as const;
}

export type NatsNames = ReturnType<typeof natsNames>;

/** Header that carries the reason an event was dead-lettered. */
export const DEAD_LETTER_REASON_HEADER = 'Herald-Dead-Reason';
