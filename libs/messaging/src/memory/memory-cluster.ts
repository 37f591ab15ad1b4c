import { DEAD_LETTER_REASON_HEADER, type Heartbeat, heartbeatCodec } from '@herald/contracts';

import {
  type ClusterSource,
  type DeadLetter,
  type DeadLetterLog,
  type DeadLetterSource,
  type HeartbeatPublisher,
} from '../ports';
import { type MemoryCore } from './memory-core';
import { type StoredMessage } from './memory-stream';

export class MemoryHeartbeatPublisher implements HeartbeatPublisher {
  constructor(private readonly core: MemoryCore) {}

  publish(heartbeat: Heartbeat): Promise<void> {
    const { subjects } = this.core.names;
    const subject =
      heartbeat.kind === 'gateway'
        ? subjects.heartbeat(heartbeat.beat.gatewayId)
        : heartbeat.kind === 'push-worker'
          ? subjects.pushHeartbeat(heartbeat.beat.workerId)
          : subjects.bridgeHeartbeat(heartbeat.beat.bridgeId);
    this.core.streams.heartbeats.append(subject, heartbeatCodec.encode(heartbeat));
    return Promise.resolve();
  }
}

export class MemoryClusterSource implements ClusterSource {
  constructor(private readonly core: MemoryCore) {}

  follow(handler: (heartbeat: Heartbeat) => void): Promise<() => Promise<void>> {
    const stream = this.core.streams.heartbeats;
    const hand = (message: StoredMessage) => {
      let heartbeat: Heartbeat;
      try {
        heartbeat = heartbeatCodec.decode(message.data);
      } catch {
        return; // an unreadable beat is skipped
      }
      handler(heartbeat);
    };
    // What is kept first, then live: nothing can be appended in between (one thread).
    for (const message of stream.read(this.core.names.subjects.heartbeatAll, 0, Infinity, Infinity)) {
      hand(message);
    }
    const stop = stream.onAppend(hand);
    return Promise.resolve(() => {
      stop();
      return Promise.resolve();
    });
  }

  deadLetters(): Promise<Partial<Record<DeadLetterSource, number>>> {
    const prefix = `${this.core.names.namespace}.dead.`;
    const counts: Partial<Record<DeadLetterSource, number>> = {};
    for (const [subject, count] of this.core.streams.dead.countsBySubject()) {
      counts[subject.slice(prefix.length) as DeadLetterSource] = count;
    }
    return Promise.resolve(counts);
  }
}

export class MemoryDeadLetterLog implements DeadLetterLog {
  constructor(private readonly core: MemoryCore) {}

  read(source: DeadLetterSource, after: number, limit: number): Promise<DeadLetter[]> {
    const subject = this.core.names.subjects.dead(source);
    const found = this.core.streams.dead.read(subject, after, Infinity, limit);
    return Promise.resolve(
      found.map((message) => ({
        sequence: message.sequence,
        source,
        reason: message.headers[DEAD_LETTER_REASON_HEADER] ?? '',
        originalSubject: message.headers['Herald-Original-Subject'] ?? '',
        originalSequence: Number(message.headers['Herald-Original-Sequence']),
        data: Uint8Array.prototype.slice.call(message.data),
      })),
    );
  }
}
