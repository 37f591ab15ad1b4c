import {
  type DevicePushJob,
  devicePushJobCodec,
  type PushJob,
  pushJobCodec,
  type RelayJob,
  relayJobCodec,
} from '@herald/contracts';

import { type PushQueue } from '../ports';
import { type NatsClient } from './nats-client';
import { traceHeaders } from './trace-headers';

export class NatsPushQueue implements PushQueue {
  constructor(private readonly client: NatsClient) {}

  async publishJob(job: PushJob, traceparent?: string): Promise<void> {
    await this.client.publish(this.client.names.subjects.pushJob, pushJobCodec.encode(job), {
      msgID: job.jobId,
      headers: traceHeaders(traceparent),
      expect: { streamName: this.client.names.streams.push },
    });
  }

  async publishDeviceJob(job: DevicePushJob, traceparent?: string): Promise<void> {
    await this.client.publish(this.client.names.subjects.pushDevice, devicePushJobCodec.encode(job), {
      msgID: job.jobId,
      headers: traceHeaders(traceparent),
      expect: { streamName: this.client.names.streams.push },
    });
  }

  async publishRelayJob(job: RelayJob): Promise<void> {
    await this.client.publish(this.client.names.subjects.pushRelay, relayJobCodec.encode(job), {
      msgID: job.jobId,
      expect: { streamName: this.client.names.streams.push },
    });
  }
}
