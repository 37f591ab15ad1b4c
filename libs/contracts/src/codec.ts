import { Packr } from 'msgpackr';

import { type AnyHeraldEvent, type HeraldEvent, type UnknownTypeEvent, validateEvent } from './event';
import { type Delivery, validateDelivery } from './delivery';
import {
  type DevicePushJob,
  type PushJob,
  type RelayJob,
  validateDevicePushJob,
  validatePushJob,
  validateRelayJob,
} from './push-job';
import { type PushType } from './push-type';
import { ValidationError } from './validation.error';

/**
 * Standard MessagePack only (no msgpackr records or structures), so that any MessagePack library
 * can read what Herald puts on NATS; dates are the timestamp extension -1.
 */
const packr = new Packr({ useRecords: false, variableMapSize: true, moreTypes: false, mapsAsObjects: true });

function unpack(bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes) as unknown;
  } catch (error) {
    throw new ValidationError('', `${what} is not valid MessagePack: ${(error as Error).message}`);
  }
}

export function encodeMessagePack(value: unknown): Buffer {
  return packr.pack(value);
}

export const eventCodec = {
  encode<T extends PushType>(event: HeraldEvent<T> | UnknownTypeEvent): Buffer {
    // An absent `recipients` is left out of the map, never written as nil or undefined.
    const { recipients, ...rest } = event;
    return packr.pack(recipients ? { ...rest, recipients } : rest);
  },
  /** Decodes and validates; throws ValidationError for anything that is not a valid event. */
  decode(bytes: Uint8Array): AnyHeraldEvent {
    return validateEvent(unpack(bytes, 'the event'));
  },
};

export const deliveryCodec = {
  encode(delivery: Delivery): Buffer {
    return packr.pack(delivery);
  },
  decode(bytes: Uint8Array): Delivery {
    return validateDelivery(unpack(bytes, 'the delivery'));
  },
};

export const pushJobCodec = {
  encode(job: PushJob): Buffer {
    return packr.pack(job);
  },
  decode(bytes: Uint8Array): PushJob {
    return validatePushJob(unpack(bytes, 'the push job'));
  },
};

export const devicePushJobCodec = {
  encode(job: DevicePushJob): Buffer {
    return packr.pack(job);
  },
  decode(bytes: Uint8Array): DevicePushJob {
    return validateDevicePushJob(unpack(bytes, 'the device push job'));
  },
};

export const relayJobCodec = {
  encode(job: RelayJob): Buffer {
    return packr.pack(job);
  },
  decode(bytes: Uint8Array): RelayJob {
    return validateRelayJob(unpack(bytes, 'the relay job'));
  },
};
