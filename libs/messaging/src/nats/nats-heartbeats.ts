import { type Heartbeat, heartbeatCodec } from '@herald/contracts';

import { type HeartbeatPublisher } from '../ports';
import { type NatsClient } from './nats-client';

/** Beats are core messages; the HEARTBEATS stream keeps them for an hour. */
export class NatsHeartbeatPublisher implements HeartbeatPublisher {
  constructor(private readonly client: NatsClient) {}

  publish(heartbeat: Heartbeat): Promise<void> {
    const { subjects } = this.client.names;
    const subject =
      heartbeat.kind === 'gateway'
        ? subjects.heartbeat(heartbeat.beat.gatewayId)
        : heartbeat.kind === 'push-worker'
          ? subjects.pushHeartbeat(heartbeat.beat.workerId)
          : subjects.bridgeHeartbeat(heartbeat.beat.bridgeId);
    // At most once: while the connection is closed the beat is dropped; the next one replaces it.
    if (!this.client.connection.isClosed()) {
      this.client.connection.publish(subject, heartbeatCodec.encode(heartbeat));
    }
    return Promise.resolve();
  }
}
