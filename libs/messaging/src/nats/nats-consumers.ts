import { type Logger } from 'pino';

import {
  type ConsumeHandler,
  type ConsumerOptions,
  type EventConsumer,
  type EventSubscription,
  type PushConsumer,
  type PushLane,
} from '../ports';
import { type NatsClient } from './nats-client';
import { type ConsumerSpec, NatsEventConsumer, NatsStreamConsumer } from './nats-event-consumer';

/** The `dispatcher` durable consumer of EVENTS behind the `EventConsumer` port. */
export class NatsEventConsumers implements EventConsumer {
  constructor(
    private readonly client: NatsClient,
    private readonly logger: Logger,
  ) {}

  start(options: ConsumerOptions, handler: ConsumeHandler): Promise<EventSubscription> {
    return new NatsEventConsumer(this.client, this.logger, options).start(handler);
  }
}

/** Which durable consumer of PUSH serves a lane, and where its dead letters go. */
export function pushLaneSpec(names: NatsClient['names'], lane: PushLane): ConsumerSpec {
  const { streams, consumers, subjects } = names;
  switch (lane) {
    case 'job':
      return {
        stream: streams.push,
        durable: consumers.pushResolver,
        filterSubject: subjects.pushJob,
        deadSubject: subjects.dead('push'),
      };
    case 'device':
      return {
        stream: streams.push,
        durable: consumers.pushSender,
        filterSubject: subjects.pushDevice,
        deadSubject: subjects.dead('push-device'),
      };
    case 'relay':
      return {
        stream: streams.push,
        durable: consumers.pushRelay,
        filterSubject: subjects.pushRelay,
        deadSubject: subjects.dead('push-relay'),
      };
  }
}

/** The three durable consumers of PUSH behind the `PushConsumer` port. */
export class NatsPushConsumer implements PushConsumer {
  constructor(
    private readonly client: NatsClient,
    private readonly logger: Logger,
  ) {}

  start(lane: PushLane, options: ConsumerOptions, handler: ConsumeHandler): Promise<EventSubscription> {
    const spec = pushLaneSpec(this.client.names, lane);
    return new NatsStreamConsumer(this.client, this.logger, spec, options).start(handler);
  }
}
