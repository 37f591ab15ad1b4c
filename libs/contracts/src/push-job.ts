import { type ClientType, isClientType } from './device-type';
import { isPushType } from './push-type';
import { isGuid, isPlainObject } from './validation';
import { ValidationError } from './validation.error';

export type PushTargetKind = 'user' | 'org' | 'installation';

/**
 * One event to push to the devices of one target (stage 1, `<ns>.push.job`). WIRE SHAPE between
 * the dispatcher (or the relay-compatible `/push/send`) and the push worker.
 */
export interface PushJob {
  /** Also the `Nats-Msg-Id`: a redelivered event makes the same job, stored once. */
  jobId: string;
  eventId: string;
  /** The PushType number, 0-255 (known to Herald or not). */
  type: number;
  payload: Record<string, unknown>;
  contextId: string | null;
  target: { kind: PushTargetKind; id: string };
  /** Identifier of the device that caused the change: it is never pushed to. */
  excludeIdentifier: string | null;
  /** Only devices of this client type; All = every device of the target. */
  clientType: ClientType;
  acceptedAt: number;
  /**
   * Set on the jobs of the relay API (`/push/send`): the calling installation, the only namespace
   * the job reaches, and the target's ids are that installation's. Absent on the dispatcher's
   * jobs, which reach the vault's own registrations (docs/push.md, "Namespaces").
   */
  relayInstallationId?: string;
}

/** One push to one registered device (stage 2, `<ns>.push.device`), retried on its own. */
export interface DevicePushJob {
  jobId: string;
  parentJobId: string;
  deviceId: string;
  /** The device's namespace: the relay installation that registered it; null (or absent) for the users' own. */
  installationId?: string | null;
  type: number;
  payload: Record<string, unknown>;
  contextId: string | null;
  acceptedAt: number;
}

export function validatePushJob(value: unknown): PushJob {
  if (!isPlainObject(value)) throw new ValidationError('', 'a push job must be a map');
  const { jobId, eventId, type, payload, target, clientType, acceptedAt } = value;
  if (typeof jobId !== 'string' || typeof eventId !== 'string')
    throw new ValidationError('jobId', 'expected strings');
  if (!isPushType(type)) throw new ValidationError('type', 'expected a push type from 0 to 255');
  if (!isPlainObject(payload)) throw new ValidationError('payload', 'expected a map');
  if (
    !isPlainObject(target) ||
    !['user', 'org', 'installation'].includes(target.kind as string) ||
    typeof target.id !== 'string'
  ) {
    throw new ValidationError('target', 'expected {kind: user|org|installation, id}');
  }
  if (!isClientType(clientType)) throw new ValidationError('clientType', 'expected a ClientType');
  if (typeof acceptedAt !== 'number') throw new ValidationError('acceptedAt', 'expected a number');
  if (value.relayInstallationId !== undefined && !isGuid(value.relayInstallationId)) {
    throw new ValidationError('relayInstallationId', 'expected a GUID');
  }
  return value as unknown as PushJob;
}

export function validateDevicePushJob(value: unknown): DevicePushJob {
  if (!isPlainObject(value)) throw new ValidationError('', 'a device push job must be a map');
  const { jobId, deviceId, installationId, type, payload } = value;
  if (typeof jobId !== 'string' || typeof deviceId !== 'string')
    throw new ValidationError('deviceId', 'expected strings');
  if (installationId !== undefined && installationId !== null && !isGuid(installationId)) {
    throw new ValidationError('installationId', 'expected a GUID or null');
  }
  if (!isPushType(type)) throw new ValidationError('type', 'expected a push type from 0 to 255');
  if (!isPlainObject(payload)) throw new ValidationError('payload', 'expected a map');
  return value as unknown as DevicePushJob;
}

/**
 * A registration change to forward to Bitwarden's relay (`<ns>.push.relay`), when Herald pushes
 * through it: forwarded asynchronously and retried, so a registration never fails because the
 * relay is down. WIRE SHAPE.
 */
export type RelayJob =
  | {
      jobId: string;
      op: 'register';
      registration: {
        deviceId: string;
        pushToken: string;
        userId: string;
        type: number;
        identifier: string;
        organizationIds: string[];
      };
    }
  | { jobId: string; op: 'delete'; deviceId: string }
  | {
      jobId: string;
      op: 'add-organization' | 'delete-organization';
      deviceIds: string[];
      organizationId: string;
    };

export function validateRelayJob(value: unknown): RelayJob {
  if (!isPlainObject(value) || typeof value.jobId !== 'string')
    throw new ValidationError('', 'a relay job must be a map with a jobId');
  switch (value.op) {
    case 'register':
      if (!isPlainObject(value.registration)) throw new ValidationError('registration', 'expected a map');
      return value as unknown as RelayJob;
    case 'delete':
      if (typeof value.deviceId !== 'string') throw new ValidationError('deviceId', 'expected a string');
      return value as unknown as RelayJob;
    case 'add-organization':
    case 'delete-organization':
      if (!Array.isArray(value.deviceIds) || typeof value.organizationId !== 'string') {
        throw new ValidationError('deviceIds', 'expected device ids and an organization id');
      }
      return value as unknown as RelayJob;
    default:
      throw new ValidationError('op', 'unknown relay operation');
  }
}
