import {
  type AnyHeraldEvent,
  type DevicePushJob,
  devicePushJobCodec,
  eventCodec,
  type PushJob,
  pushJobCodec,
  type RelayJob,
  relayJobCodec,
} from '@herald/contracts';

import {
  type AppendResult,
  type ConsumeHandler,
  type ConsumerOptions,
  type EventConsumer,
  type EventLog,
  type EventSubscription,
  type PushConsumer,
  type PushLane,
  type PushQueue,
} from '../ports';
import { type MemoryCore } from './memory-core';
import { traceHeaders } from './memory-headers';

export class MemoryEventLog implements EventLog {
  constructor(private readonly core: MemoryCore) {}

  append(event: AnyHeraldEvent, traceparent?: string): Promise<AppendResult> {
    const stored = this.core.streams.events.append(
      this.core.names.subjects.event(event.type),
      eventCodec.encode(event),
      { msgId: event.id, headers: traceHeaders(traceparent) },
    );
    return Promise.resolve(stored);
  }
}

/** The `dispatcher` durable consumer of EVENTS. */
export class MemoryEventConsumer implements EventConsumer {
  constructor(private readonly core: MemoryCore) {}

  start(options: ConsumerOptions, handler: ConsumeHandler): Promise<EventSubscription> {
    const { names, streams } = this.core;
    return this.core
      .durable(`${names.streams.events}/${names.consumers.dispatcher}`, () => ({
        stream: streams.events,
        filterSubject: names.subjects.eventsAll,
        dead: streams.dead,
        deadSubject: names.subjects.dead('events'),
        workQueue: false,
      }))
      .start(options, handler);
  }
}

export class MemoryPushQueue implements PushQueue {
  constructor(private readonly core: MemoryCore) {}

  publishJob(job: PushJob, traceparent?: string): Promise<void> {
    return this.put(this.core.names.subjects.pushJob, pushJobCodec.encode(job), job.jobId, traceparent);
  }

  publishDeviceJob(job: DevicePushJob, traceparent?: string): Promise<void> {
    return this.put(
      this.core.names.subjects.pushDevice,
      devicePushJobCodec.encode(job),
      job.jobId,
      traceparent,
    );
  }

  publishRelayJob(job: RelayJob): Promise<void> {
    return this.put(this.core.names.subjects.pushRelay, relayJobCodec.encode(job), job.jobId);
  }

  private put(subject: string, data: Uint8Array, msgId: string, traceparent?: string): Promise<void> {
    this.core.streams.push.append(subject, data, { msgId, headers: traceHeaders(traceparent) });
    return Promise.resolve();
  }
}

/** The three durable consumers of PUSH; a decided job leaves the queue (work-queue retention). */
export class MemoryPushConsumer implements PushConsumer {
  constructor(private readonly core: MemoryCore) {}

  start(lane: PushLane, options: ConsumerOptions, handler: ConsumeHandler): Promise<EventSubscription> {
    const { names, streams } = this.core;
    const lanes = {
      job: { durable: names.consumers.pushResolver, filter: names.subjects.pushJob, dead: 'push' },
      device: { durable: names.consumers.pushSender, filter: names.subjects.pushDevice, dead: 'push-device' },
      relay: { durable: names.consumers.pushRelay, filter: names.subjects.pushRelay, dead: 'push-relay' },
    } as const;
    const { durable, filter, dead } = lanes[lane];
    return this.core
      .durable(`${names.streams.push}/${durable}`, () => ({
        stream: streams.push,
        filterSubject: filter,
        dead: streams.dead,
        deadSubject: names.subjects.dead(dead),
        workQueue: true,
      }))
      .start(options, handler);
  }
}
