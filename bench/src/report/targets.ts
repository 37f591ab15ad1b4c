import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { WORKSPACE_ROOT } from '@herald/testing';

import { commonLatency, type FanoutResult } from '../scenarios/fanout';
import { type IdleResult } from '../scenarios/idle';
import { type PipelineResult } from '../scenarios/pipeline';
import { type ScaleResult } from '../scenarios/scale';
import { type StandaloneResult } from '../scenarios/standalone';
import { type StormResult } from '../scenarios/storm';
import { type RunRecord } from './results';

type Servers<R> = { herald?: R; 'ws-floor'?: R; socketio?: R; standalone?: R };

async function latest<R>(scenario: string): Promise<{ date: string; servers: Servers<R> } | undefined> {
  try {
    const record = JSON.parse(
      await readFile(join(WORKSPACE_ROOT, 'bench', 'results', `${scenario}-latest.json`), 'utf8'),
    ) as RunRecord;
    return { date: record.startedAt.slice(0, 10), servers: record.servers as Servers<R> };
  } catch {
    return undefined;
  }
}

const ratio = (value: number) => `${value.toFixed(2)}×`;
const verdict = (met: boolean) => (met ? 'reached' : '**not reached**');

/**
 * Issue 14's targets against the committed `*-latest.json` figures, as Markdown rows; a target
 * whose scenario has no full run yet says so.
 */
export async function targetsTable(): Promise<string> {
  const fanout = await latest<FanoutResult>('fanout');
  const idle = await latest<IdleResult>('idle');
  const storm = await latest<StormResult>('storm');
  const rows: string[][] = [];
  const missing = (target: string, scenario: string) =>
    rows.push([target, `no full \`${scenario}\` run yet`, '']);

  const f = fanout?.servers;
  if (fanout && f?.herald && f['ws-floor'] && f.socketio) {
    const herald = f.herald.saturation.deliveriesPerSecond;
    const floor = herald / f['ws-floor'].saturation.deliveriesPerSecond;
    const socketio = herald / f.socketio.saturation.deliveriesPerSecond;
    rows.push([
      `\`fanout\` deliveries/s ≥ 1.2× \`ws-floor\``,
      `${ratio(floor)} (${fanout.date})`,
      verdict(floor >= 1.2),
    ]);
    rows.push([
      `\`fanout\` deliveries/s ≥ 2× \`socketio\``,
      `${ratio(socketio)} (${fanout.date})`,
      verdict(socketio >= 2),
    ]);
    const heraldP99 = commonLatency(f.herald, 'herald', true)?.p99;
    const floorP99 = commonLatency(f['ws-floor'], 'ws-floor', true)?.p99;
    if (heraldP99 !== undefined && floorP99 !== undefined) {
      const p99 = heraldP99 / floorP99;
      rows.push([
        '`fanout` p99 at half of saturation ≤ 1.2× `ws-floor` p99 at the same offered load',
        `${ratio(p99)}: ${heraldP99.toFixed(0)} ms against ${floorP99.toFixed(0)} ms (${fanout.date})`,
        verdict(p99 <= 1.2),
      ]);
    }
  } else {
    missing('`fanout` deliveries/s ≥ 1.2× `ws-floor` and ≥ 2× `socketio`; p99 ≤ 1.2× `ws-floor`', 'fanout');
  }

  const i = idle?.servers;
  if (idle && i?.herald && i['ws-floor']) {
    const perConnection = i.herald.residentKilobytesPerConnection;
    const floor = perConnection / i['ws-floor'].residentKilobytesPerConnection;
    rows.push([
      '`idle` RSS per connection ≤ 1.3× `ws-floor`',
      `${ratio(floor)}: ${perConnection.toFixed(1)} KB against ${i['ws-floor'].residentKilobytesPerConnection.toFixed(1)} KB (${idle.date})`,
      verdict(floor <= 1.3),
    ]);
  } else {
    missing('`idle` RSS per connection ≤ 1.3× `ws-floor`', 'idle');
  }

  const s = storm?.servers;
  if (storm && s?.herald && s['ws-floor']) {
    const { reconnect } = s.herald;
    const rate = reconnect.handshakesPerSecond / s['ws-floor'].reconnect.handshakesPerSecond;
    rows.push([
      `\`storm\`: ${reconnect.attempted.toLocaleString('en-US')} reconnects, none refused, ≥ 0.7× \`ws-floor\`'s handshake rate`,
      `${reconnect.refused.toLocaleString('en-US')} refused, ${ratio(rate)} (${storm.date})`,
      verdict(reconnect.refused === 0 && rate >= 0.7),
    ]);
  } else {
    missing('`storm`: reconnects none refused, ≥ 0.7× `ws-floor`', 'storm');
  }
  const pipeline = await latest<PipelineResult>('pipeline');
  const p = pipeline?.servers.herald;
  if (pipeline && p) {
    const { nats, send } = p;
    const events = (value: number) => Math.round(value).toLocaleString('en-US');
    rows.push([
      '`pipeline`: ≥ 20,000 events/s from NATS publishers through one dispatcher to clients, p99 stated',
      `${events(nats.eventsDeliveredPerSecond)} events/s; p99 ${nats.latency.p99.toFixed(0)} ms at ` +
        `${events(nats.eventsOfferedPerSecond)}/s; \`/send\`: ${events(send.eventsDeliveredPerSecond)} events/s, ` +
        `p99 ${send.latency.p99.toFixed(0)} ms (${pipeline.date})`,
      verdict(nats.eventsDeliveredPerSecond >= 20_000),
    ]);
  } else {
    missing('`pipeline`: ≥ 20,000 events/s from NATS publishers through one dispatcher', 'pipeline');
  }

  const scale = await latest<ScaleResult>('scale');
  const c = scale?.servers.herald;
  if (scale && c) {
    rows.push([
      '`scale`: two gateways ≥ 1.8× one',
      `${ratio(c.ratio)}: ${Math.round(c.two.deliveriesPerSecond).toLocaleString('en-US')} against ` +
        `${Math.round(c.one.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s (${scale.date})`,
      verdict(c.ratio >= 1.8),
    ]);
  } else {
    missing('`scale`: two gateways ≥ 1.8× one', 'scale');
  }

  const standalone = await latest<StandaloneResult>('standalone');
  const a = standalone?.servers.standalone;
  if (standalone && a) {
    rows.push([
      '`standalone` on `fanout` and `idle` (no target: figures only)',
      `${Math.round(a.fanout.saturation.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s, ` +
        `${a.idle.residentKilobytesPerConnection.toFixed(1)} KB RSS per connection (${standalone.date})`,
      '—',
    ]);
  } else {
    missing('`standalone` on `fanout` and `idle` (no target: figures only)', 'standalone');
  }
  return [
    '| target (issue 14) | measured (a ratio: Herald / baseline, or two gateways / one) | |',
    '| --- | --- | --- |',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
}
