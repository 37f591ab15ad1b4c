import { isPlainObject } from './validation';
import { ValidationError } from './validation.error';

/**
 * What every gateway publishes on `<ns>.heartbeat.<gatewayId>` every 5 s, and keeps in the
 * `gateways` bucket. WIRE SHAPE between gateways and the heartbeat service (and replay, which
 * reads `watermark` of dead gateways).
 */
export interface GatewayHeartbeat {
  gatewayId: string;
  host: string;
  version: string;
  /** ms since epoch */
  startedAt: number;
  /** ms since epoch, when this beat was taken */
  at: number;
  connections: { hub: number; 'anonymous-hub': number };
  /** Distinct users with a connection on this gateway. */
  users: number;
  /** Delivery subjects this gateway is subscribed to. */
  subscriptions: number;
  deliveriesPerSecond: number;
  bytesPerSecond: number;
  /** Connections closed as too slow since start. */
  slowClosed: number;
  /** Reconnections sent a replay or a SyncVault since start. */
  replays: number;
  /** Every delivery up to this DELIVERIES sequence had been handed to this gateway's sockets. */
  watermark: number;
}

/**
 * What every push worker publishes on `<ns>.heartbeat.push.<workerId>` every 5 s: its push
 * outcomes since start, by provider. WIRE SHAPE.
 */
export interface PushWorkerHeartbeat {
  workerId: string;
  host: string;
  version: string;
  startedAt: number;
  at: number;
  sends: Record<string, Record<string, number>>;
}

/**
 * What every event source bridge (the Vaultwarden bridge) publishes on
 * `<ns>.heartbeat.bridge.<bridgeId>` every 5 s. WIRE SHAPE.
 */
export interface BridgeHeartbeat {
  bridgeId: string;
  /** What it captures changes from, e.g. `vaultwarden`. */
  source: string;
  host: string;
  version: string;
  startedAt: number;
  at: number;
  /** This bridge is the one working (the others stand by). */
  leader: boolean;
  /** Captured changes waiting to be published, as of its last look. */
  pending: number;
  /** Age of the oldest waiting change, in seconds. */
  lagSeconds: number;
  /** Events it appended since start. */
  published: number;
}

/** One beat of any kind, as it travels on `<ns>.heartbeat.>`. */
export type Heartbeat =
  | { kind: 'gateway'; beat: GatewayHeartbeat }
  | { kind: 'push-worker'; beat: PushWorkerHeartbeat }
  | { kind: 'bridge'; beat: BridgeHeartbeat };

const GATEWAY_NUMBERS = [
  'startedAt',
  'at',
  'users',
  'subscriptions',
  'deliveriesPerSecond',
  'bytesPerSecond',
  'slowClosed',
  'replays',
  'watermark',
] as const;

function requireStrings(value: Record<string, unknown>, fields: readonly string[]): void {
  for (const field of fields) {
    if (typeof value[field] !== 'string') throw new ValidationError(field, 'expected a string');
  }
}

function requireNumbers(value: Record<string, unknown>, fields: readonly string[], prefix = ''): void {
  for (const field of fields) {
    if (typeof value[field] !== 'number' || !Number.isFinite(value[field])) {
      throw new ValidationError(`${prefix}${field}`, 'expected a number');
    }
  }
}

export function validateGatewayHeartbeat(value: unknown): GatewayHeartbeat {
  if (!isPlainObject(value)) throw new ValidationError('', 'a gateway heartbeat must be a map');
  requireStrings(value, ['gatewayId', 'host', 'version']);
  requireNumbers(value, GATEWAY_NUMBERS);
  if (!isPlainObject(value.connections)) throw new ValidationError('connections', 'expected a map');
  requireNumbers(value.connections, ['hub', 'anonymous-hub'], 'connections.');
  return value as unknown as GatewayHeartbeat;
}

export function validatePushWorkerHeartbeat(value: unknown): PushWorkerHeartbeat {
  if (!isPlainObject(value)) throw new ValidationError('', 'a push worker heartbeat must be a map');
  requireStrings(value, ['workerId', 'host', 'version']);
  requireNumbers(value, ['startedAt', 'at']);
  if (!isPlainObject(value.sends)) throw new ValidationError('sends', 'expected a map');
  for (const [provider, outcomes] of Object.entries(value.sends)) {
    if (!isPlainObject(outcomes)) throw new ValidationError(`sends.${provider}`, 'expected a map');
    requireNumbers(outcomes, Object.keys(outcomes), `sends.${provider}.`);
  }
  return value as unknown as PushWorkerHeartbeat;
}

export function validateBridgeHeartbeat(value: unknown): BridgeHeartbeat {
  if (!isPlainObject(value)) throw new ValidationError('', 'a bridge heartbeat must be a map');
  requireStrings(value, ['bridgeId', 'source', 'host', 'version']);
  requireNumbers(value, ['startedAt', 'at', 'pending', 'lagSeconds', 'published']);
  if (typeof value.leader !== 'boolean') throw new ValidationError('leader', 'expected a boolean');
  return value as unknown as BridgeHeartbeat;
}

/** Heartbeats stay JSON on the wire (deployed heartbeat services and dashboards read them so). */
export const heartbeatCodec = {
  encode(heartbeat: Heartbeat): Uint8Array {
    return Buffer.from(JSON.stringify(heartbeat.beat));
  },
  /** Decodes and validates; the kind is told by the beat's own id field. Throws ValidationError. */
  decode(bytes: Uint8Array): Heartbeat {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    } catch (error) {
      throw new ValidationError('', `the heartbeat is not valid JSON: ${(error as Error).message}`);
    }
    if (isPlainObject(value) && 'workerId' in value) {
      return { kind: 'push-worker', beat: validatePushWorkerHeartbeat(value) };
    }
    if (isPlainObject(value) && 'bridgeId' in value) {
      return { kind: 'bridge', beat: validateBridgeHeartbeat(value) };
    }
    return { kind: 'gateway', beat: validateGatewayHeartbeat(value) };
  },
};
