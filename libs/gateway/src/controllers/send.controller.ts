import { randomUUID } from 'node:crypto';

import {
  BadRequestException,
  Body,
  Controller,
  Headers,
  HttpCode,
  Inject,
  Post,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';

import {
  type AnyHeraldEvent,
  nextTraceparent,
  parseIdempotencyKey,
  parseSendRequest,
  TRACEPARENT,
  traceIdOf,
  ValidationError,
} from '@herald/contracts';
import { BROKER_STATUS, type BrokerStatus, EVENT_LOG, type EventLog } from '@herald/messaging';
import { InjectLogger, type Logger } from '@herald/platform';

import { InternalTokenGuard } from './internal-token.guard';

/** The header a caller names its request with, to retry it without storing the event twice. */
const IDEMPOTENCY_KEY = 'idempotency-key';

/**
 * Ingress from the vault API (PROTOCOL.md §6): a bearer token with scope `internal`, Bitwarden's
 * envelope in any JSON dialect; `200` only once JetStream has stored the event, `503` when it
 * cannot be stored (NATS unreachable) so that the caller retries. With an `Idempotency-Key` the
 * key is the event id: a retry within the EVENTS duplicate window (2 min) is stored once.
 */
@Controller()
@UseGuards(InternalTokenGuard)
export class SendController {
  constructor(
    @Inject(EVENT_LOG) private readonly events: EventLog,
    @Inject(BROKER_STATUS) private readonly broker: BrokerStatus,
    @InjectLogger('SendController') private readonly logger: Logger,
  ) {}

  @Post(['send', 'notifications/send'])
  @HttpCode(200)
  async send(
    @Body() body: unknown,
    @Headers(TRACEPARENT) incoming?: string,
    @Headers(IDEMPOTENCY_KEY) idempotencyKey?: string,
  ): Promise<void> {
    let parsed;
    let key;
    try {
      key = parseIdempotencyKey(idempotencyKey);
      parsed = parseSendRequest(body);
    } catch (error) {
      if (error instanceof ValidationError) {
        throw new BadRequestException({
          error: 'invalid_request',
          message: error.message,
          field: error.path || undefined,
        });
      }
      throw error;
    }
    if (!this.broker.isConnected()) {
      // Answer at once: waiting for a publish timeout while NATS is away only holds the caller.
      throw new ServiceUnavailableException({
        error: 'unavailable',
        message: 'the event store is unreachable; retry later',
      });
    }
    const event: AnyHeraldEvent = { id: key ?? randomUUID(), ...parsed, acceptedAt: new Date() };
    const traceparent = nextTraceparent(incoming);
    try {
      const result = await this.events.append(event, traceparent);
      this.logger.debug(
        {
          eventId: event.id,
          type: event.type,
          sequence: result.sequence,
          duplicate: result.duplicate,
          traceId: traceIdOf(traceparent),
        },
        result.duplicate ? 'event already stored under this idempotency key' : 'event accepted',
      );
    } catch (error) {
      this.logger.error({ err: error, eventId: event.id, type: event.type }, 'event could not be stored');
      throw new ServiceUnavailableException({
        error: 'unavailable',
        message: 'the event could not be stored; retry later',
      });
    }
  }
}
