import { consumerOpts } from 'nats';

import { type NatsClient } from './nats-client';
import { isNotFound } from './topology';

/** What the heartbeat service reads from NATS: the HEARTBEATS stream and the dead-letter counts. */
export class NatsClusterSource {
  constructor(private readonly client: NatsClient) {}

  /**
   * An ordered push consumer from the stream's start (the last hour), then live. (The newer
   * ordered pull consumer of nats.js asks for features nats-server 2.9 lacks.)
   */
  async followHeartbeats(handler: (subject: string, body: unknown) => void): Promise<() => Promise<void>> {
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
        try {
          handler(message.subject, message.json<unknown>());
        } catch {
          // an unreadable beat is skipped
        }
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
