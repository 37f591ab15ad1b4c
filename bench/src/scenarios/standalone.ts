import { SEND_CONCURRENCY } from '../feed/send-feed';
import { fanoutDurations, type FanoutResult, runFanout } from './fanout';
import { idleDurations, type IdleResult, runIdle } from './idle';
import { type Scenario } from './scenario';

export interface StandaloneResult {
  idle: IdleResult;
  fanout: FanoutResult;
}

/**
 * The single process (dist/standalone: gateway, dispatcher, push worker and heartbeat in one
 * process, broker in memory, SQLite) on `idle` then `fanout`, each on a fresh process, with
 * shorter phases than theirs. There is no NATS to feed: every notification is an event posted to
 * its `/send`, routed by its own dispatcher. No baseline: the figures stand on their own.
 */
export const standalone: Scenario<StandaloneResult> = {
  name: 'standalone',
  feed: () =>
    `events posted to the single process's \`/send\` (SendFeed, ${SEND_CONCURRENCY} requests in flight), routed by its own dispatcher`,
  servers: () => ['standalone'],
  async run(open, context) {
    const { quick } = context.options;
    const idle = await runIdle(await open(), idleDurations(quick, true));
    const fanout = await runFanout(await open(), context, {}, fanoutDurations(quick, true));
    return { idle, fanout };
  },
};
