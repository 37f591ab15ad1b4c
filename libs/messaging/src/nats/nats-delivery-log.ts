import { type LastForMsgRequest, type StoredMsg } from 'nats';

import { NextRound } from '@herald/platform';

import { type DeliveryLog, type StoredDelivery } from '../ports';
import { type NatsClient } from './nats-client';
import { isNotFound } from './topology';

/** STREAM.MSG.GET with the queries Herald sends (`next_by_subj` needs NATS 2.9). */
interface MessageGets {
  getMessage(
    stream: string,
    query: LastForMsgRequest | { seq: number; next_by_subj: string },
  ): Promise<StoredMsg>;
}

/**
 * DELIVERIES read back one message at a time (NATS 2.9 has no multi-subject consumers), through
 * the stream's leader: a direct get may be answered by a follower that is behind on a cluster, and
 * a catch-up or replay would then skip what it has not stored yet.
 */
export class NatsDeliveryLog implements DeliveryLog {
  private readonly messages: MessageGets;
  /** Reconnecting devices ask for the bounds all at once in a storm: one request per turn. */
  private readonly boundsRound = new NextRound(async () => {
    const info = await this.client.manager.streams.info(this.stream);
    return { first: info.state.first_seq, last: info.state.last_seq };
  });

  constructor(private readonly client: NatsClient) {
    this.messages = client.manager.streams;
  }

  private get stream(): string {
    return this.client.names.streams.deliveries;
  }

  bounds(): Promise<{ first: number; last: number }> {
    return this.boundsRound.run();
  }

  async latestSequence(subject: string): Promise<number> {
    await this.client.nextTurn();
    try {
      const message = await this.messages.getMessage(this.stream, { last_by_subj: subject });
      return message.seq;
    } catch (error) {
      if (isNoMessage(error)) return 0;
      throw error;
    }
  }

  async readAfter(subject: string, after: number, upTo: number, limit: number): Promise<StoredDelivery[]> {
    const found: StoredDelivery[] = [];
    let next = after + 1;
    while (found.length < limit && next <= upTo) {
      let message;
      try {
        message = await this.messages.getMessage(this.stream, { seq: next, next_by_subj: subject });
      } catch (error) {
        if (isNoMessage(error)) break;
        throw error;
      }
      if (message.seq > upTo) break;
      found.push({ sequence: message.seq, subject: message.subject, data: message.data });
      next = message.seq + 1;
    }
    return found;
  }
}

function isNoMessage(error: unknown): boolean {
  return isNotFound(error) || /no message|404/i.test(String(error));
}
