import { consumerOpts } from 'nats';

import { type Heartbeat, heartbeatCodec } from '@herald/contracts';

import { type ClusterSource } from '../ports';
import { type NatsClient } from './nats-client';
import { isNotFound } from './topology';

/** What the heartbeat service reads from NATS: the HEARTBEATS stream and the dead-letter counts. */
export class NatsClusterSource implements ClusterSource {
  constructor(private readonly client: NatsClient) {}

  /** Every kept beat, then live ones, decoded; unreadable beats are skipped. */
  follow(handler: (heartbeat: Heartbeat) => void): Promise<() => Promise<void>> {
    return this.followRaw((_subject, data) => {
      let heartbeat: Heartbeat;
      try {
        heartbeat = heartbeatCodec.decode(data);
      } catch {
        return; // an unreadable beat is skipped
      }
      handler(heartbeat);
    });
  }

  /** The same stream as `follow`, undecoded JSON (what the heartbeat service reads today). */
  followHeartbeats(handler: (subject: string, body: unknown) => void): Promise<() => Promise<void>> {
    return this.followRaw((subject, data) => {
      try {
        handler(subject, JSON.parse(Buffer.from(data).toString('utf8')) as unknown);
      } catch {
        // an unreadable beat is skipped
      }
    });
  }

  /**
   * An ordered push consumer from the stream's start (the last hour), then live. (The newer
   * ordered pull consumer of nats.js asks for features nats-server 2.9 lacks.)
   */
  private async followRaw(
    onMessage: (subject: string, data: Uint8Array) => void,
  ): Promise<() => Promise<void>> {
    const options = consumerOpts()
      .orderedConsumer()
      .deliverAll()
      .bindStream(this.client.names.streams.heartbeats);
    const subscription = await this.client.jetstream.subscribe(
      this.client.names.subjects.heartbeatAll,
      options,
    );
    const loop = (async () => {
      for await (const message of subscription) {
        onMessage(message.subject, message.data);
      }
    })();
    return async () => {
      subscription.unsubscribe();
      await loop;
    };
  }

  async deadLetters(): Promise<Record<string, number>> {
    const { streams, namespace } = this.client.names;
    try {
      const info = await this.client.manager.streams.info(streams.dead, { subjects_filter: '>' });
      const counts: Record<string, number> = {};
      for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
        counts[subject.slice(`${namespace}.dead.`.length)] = count;
      }
      return counts;
    } catch (error) {
      if (isNotFound(error)) return {};
      throw error;
    }
  }
}
