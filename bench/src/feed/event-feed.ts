import { randomUUID } from 'node:crypto';

import { HeraldPublisher } from '@herald/publisher';
import { TEST_NATS_URL } from '@herald/testing';

import { type Group } from '../population';
import { BENCH_COLLECTION_IDS, BENCH_CONTEXT_ID, SENT_AT_FIELD } from './delivery-feed';
import { type Feed, InFlight } from './feed';

/** Publishers, each on a NATS connection of its own, as several vault API instances would be. */
export const EVENT_PUBLISHERS = 4;
/** JetStream acknowledgements awaited at once, over every publisher (128 each). */
export const EVENTS_IN_FLIGHT = EVENT_PUBLISHERS * 128;

/**
 * Events published to the EVENTS stream by `@herald/publisher`'s HeraldPublisher, exactly as a
 * vault API publishes them (the payload validated, `Nats-Msg-Id` the event id, a traceparent
 * header, resolved once JetStream stored it): one SyncCipherUpdate per group, a personal item to
 * its owner or a shared one to its organization, taken in turn by `EVENT_PUBLISHERS` publishers.
 * The dispatcher routes them; `BenchSentAt` is the time the event was made, just before publishing.
 */
export class EventFeed implements Feed {
  private turn = 0;
  private readonly inFlight = new InFlight(EVENTS_IN_FLIGHT);

  private constructor(private readonly publishers: HeraldPublisher[]) {}

  static async connect(namespace: string): Promise<EventFeed> {
    const publishers = await Promise.all(
      Array.from({ length: EVENT_PUBLISHERS }, () =>
        HeraldPublisher.connect({ servers: TEST_NATS_URL, namespace }),
      ),
    );
    return new EventFeed(publishers);
  }

  async publish(group: Group): Promise<void> {
    await this.inFlight.acquire();
    const publisher = this.publishers[this.turn++ % this.publishers.length]!;
    const personal = group.kind === 'user';
    this.inFlight.track(
      publisher.syncCipherUpdate(
        {
          Id: randomUUID(),
          UserId: personal ? group.id : null,
          OrganizationId: personal ? null : group.id,
          CollectionIds: personal ? null : BENCH_COLLECTION_IDS,
          RevisionDate: new Date(),
          [SENT_AT_FIELD]: performance.timeOrigin + performance.now(),
        },
        { contextId: BENCH_CONTEXT_ID },
      ),
    );
  }

  get published(): number {
    return this.inFlight.accepted;
  }

  settle(): Promise<void> {
    return this.inFlight.settled('events were not published');
  }

  async close(): Promise<void> {
    await this.inFlight.drained();
    await Promise.all(this.publishers.map((publisher) => publisher.close()));
  }
}
