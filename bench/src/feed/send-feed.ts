import { Agent, request } from 'node:http';

import { PushType } from '@herald/contracts';

import { type Group } from '../population';
import { BENCH_COLLECTION_IDS, BENCH_CONTEXT_ID, SENT_AT_FIELD } from './delivery-feed';
import { type Feed, InFlight } from './feed';

/** Requests in flight at once: a vault API's connection pool, kept alive between requests. */
export const SEND_CONCURRENCY = 64;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Events posted to a gateway's `/send` as a vault API posts them (Bitwarden's envelope, an
 * internal token, one SyncCipherUpdate per request, a personal item to its owner or a shared one
 * to its organization) over kept-alive connections, `SEND_CONCURRENCY` requests in flight. The
 * way into Herald when there is no NATS to publish to (the single process), and the `/send` half
 * of `pipeline`. The payload carries `BenchSentAt`, the time the request was made.
 */
export class SendFeed implements Feed {
  private readonly inFlight = new InFlight(SEND_CONCURRENCY);
  private readonly agent = new Agent({ keepAlive: true, maxSockets: SEND_CONCURRENCY });

  constructor(
    private readonly url: URL,
    private readonly token: string,
  ) {}

  async publish(group: Group): Promise<void> {
    await this.inFlight.acquire();
    const personal = group.kind === 'user';
    const body = JSON.stringify({
      type: PushType.SyncCipherUpdate,
      payload: {
        Id: crypto.randomUUID(),
        UserId: personal ? group.id : null,
        OrganizationId: personal ? null : group.id,
        CollectionIds: personal ? null : BENCH_COLLECTION_IDS,
        RevisionDate: new Date().toISOString(),
        [SENT_AT_FIELD]: performance.timeOrigin + performance.now(),
      },
      contextId: BENCH_CONTEXT_ID,
    });
    this.inFlight.track(
      this.post(body).then((status) => {
        if (status !== 200) throw new Error(`HTTP ${status}`);
      }),
    );
  }

  get published(): number {
    return this.inFlight.accepted;
  }

  settle(): Promise<void> {
    return this.inFlight.settled('events were not accepted by /send');
  }

  async close(): Promise<void> {
    await this.inFlight.drained();
    this.agent.destroy();
  }

  /** One POST; resolves with the status once the answer was read. */
  private post(body: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const outgoing = request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            Authorization: `Bearer ${this.token}`,
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
          response.once('error', reject);
        },
      );
      outgoing.once('error', reject);
      // A request that never gets an answer must fail the run, not hang it.
      outgoing.setTimeout(REQUEST_TIMEOUT_MS, () =>
        outgoing.destroy(new Error(`no answer from /send in ${REQUEST_TIMEOUT_MS / 1000} s`)),
      );
      outgoing.end(body);
    });
  }
}
