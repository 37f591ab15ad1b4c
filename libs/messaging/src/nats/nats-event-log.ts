import { type AnyHeraldEvent, eventCodec } from '@herald/contracts';

import { type AppendResult, type EventLog } from '../ports';
import { traceHeaders } from './trace-headers';
import { type NatsClient } from './nats-client';

/** EVENTS on JetStream: the publish ack means the event is on disk; `Nats-Msg-Id` = event id. */
export class NatsEventLog implements EventLog {
  constructor(private readonly client: NatsClient) {}

  async append(event: AnyHeraldEvent, traceparent?: string): Promise<AppendResult> {
    const ack = await this.client.publish(
      this.client.names.subjects.event(event.type),
      eventCodec.encode(event),
      {
        msgID: event.id,
        headers: traceHeaders(traceparent),
        expect: { streamName: this.client.names.streams.events },
      },
    );
    return { sequence: ack.seq, duplicate: ack.duplicate };
  }
}
