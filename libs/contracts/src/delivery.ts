import { type ClientType, isClientType } from './device-type';
import { isPushType } from './push-type';
import { ValidationError } from './validation.error';
import { isPlainObject } from './validation';

/** WIRE NAMES: the hubs' paths (without the optional `/notifications` prefix). */
export enum HubName {
  Main = 'hub',
  Anonymous = 'anonymous-hub',
}

/** WIRE NAMES: the invocation targets real clients register. The misspelling is Bitwarden's and must stay. */
export enum HubMethod {
  ReceiveMessage = 'ReceiveMessage',
  AuthRequestResponseReceived = 'AuthRequestResponseRecieved',
}

/** The one argument of every notification invocation. WIRE NAMES (PascalCase, read by clients). */
export interface NotificationMessage {
  ContextId: string | null;
  /** The PushType number, 0-255: a type Herald does not know reaches clients unchanged too. */
  Type: number;
  Payload: Record<string, unknown>;
}

/**
 * One delivery on `<ns>.deliver.<kind>.<id>`: what a gateway writes to the sockets of that group.
 * WIRE SHAPE between dispatcher and gateways.
 */
export interface Delivery {
  eventId: string;
  hub: HubName;
  method: HubMethod;
  /** Only connections of this client type receive it; All = every connection of the group. */
  clientType: ClientType;
  message: NotificationMessage;
  /** When the event was accepted (ms since epoch), for delivery latency. */
  acceptedAt: number;
  /**
   * The event's position in EVENTS (0 when unknown). Competing dispatchers may store deliveries
   * out of event order; replay sorts by this, so a backlog arrives in the order events were accepted.
   */
  eventSequence: number;
}

export function validateDelivery(value: unknown): Delivery {
  if (!isPlainObject(value)) {
    throw new ValidationError('', 'a delivery must be a map');
  }
  const { eventId, hub, method, clientType, message, acceptedAt, eventSequence } = value;
  if (typeof eventId !== 'string') throw new ValidationError('eventId', 'expected a string');
  if (hub !== HubName.Main && hub !== HubName.Anonymous) throw new ValidationError('hub', 'unknown hub');
  if (method !== HubMethod.ReceiveMessage && method !== HubMethod.AuthRequestResponseReceived) {
    throw new ValidationError('method', 'unknown method');
  }
  if (!isClientType(clientType)) throw new ValidationError('clientType', 'expected a ClientType');
  if (typeof acceptedAt !== 'number') throw new ValidationError('acceptedAt', 'expected a number');
  if (typeof eventSequence !== 'number') throw new ValidationError('eventSequence', 'expected a number');
  if (!isPlainObject(message) || !isPushType(message.Type) || !isPlainObject(message.Payload)) {
    throw new ValidationError('message', 'expected {ContextId, Type, Payload}');
  }
  if (message.ContextId !== null && typeof message.ContextId !== 'string') {
    throw new ValidationError('message.ContextId', 'expected a string or null');
  }
  return value as unknown as Delivery;
}
