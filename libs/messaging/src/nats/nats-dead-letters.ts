import { type StoredMsg } from 'nats';

import { DEAD_LETTER_REASON_HEADER } from '@herald/contracts';

import { type DeadLetter, type DeadLetterLog, type DeadLetterSource } from '../ports';
import { type NatsClient } from './nats-client';
import { isNotFound } from './topology';

/** The stream message API with `next_by_subj` (nats-server 2.9), left out of nats.js's typings. */
interface NextBySubject {
  getMessage(stream: string, query: { seq: number; next_by_subj: string }): Promise<StoredMsg>;
}

/** DEAD read back message by message, by source subject. */
export class NatsDeadLetterLog implements DeadLetterLog {
  constructor(private readonly client: NatsClient) {}

  async read(source: DeadLetterSource, after: number, limit: number): Promise<DeadLetter[]> {
    const streams = this.client.manager.streams as unknown as NextBySubject;
    const subject = this.client.names.subjects.dead(source);
    const found: DeadLetter[] = [];
    let next = after + 1;
    while (found.length < limit) {
      let message: StoredMsg;
      try {
        message = await streams.getMessage(this.client.names.streams.dead, {
          seq: next,
          next_by_subj: subject,
        });
      } catch (error) {
        if (isNotFound(error) || /no message/i.test(String(error))) break;
        throw error;
      }
      found.push({
        sequence: message.seq,
        source,
        reason: message.header.get(DEAD_LETTER_REASON_HEADER),
        originalSubject: message.header.get('Herald-Original-Subject'),
        originalSequence: Number(message.header.get('Herald-Original-Sequence')),
        data: message.data,
      });
      next = message.seq + 1;
    }
    return found;
  }
}
