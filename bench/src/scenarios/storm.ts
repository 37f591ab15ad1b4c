import { sleep } from '../progress';
import { type ConnectFigures } from '../session';
import { type Scenario } from './scenario';

export interface StormResult {
  /** Every client connecting at once to a server that has never seen them (Herald verifies each token). */
  first: ConnectFigures;
  /** After a drop of every connection, every client reconnecting at once. */
  reconnect: ConnectFigures;
  /** From the drop until the server counted none of the dropped connections. */
  releasedSeconds: number;
}

/** Waits until the server counts at most `count` connections; resolves with the seconds it took. */
async function connectionsDownTo(
  count: number,
  read: () => Promise<number>,
  deadlineMs: number,
): Promise<number> {
  const startedAt = performance.now();
  while ((await read()) > count) {
    if (performance.now() - startedAt > deadlineMs)
      throw new Error(`the server still counts more than ${count} connections`);
    await sleep(100);
  }
  return (performance.now() - startedAt) / 1000;
}

export const storm: Scenario<StormResult> = {
  name: 'storm',
  servers: (requested) => requested,
  async run(open, context) {
    const session = await open();
    const { server } = session;
    session.log('first connect: every client at once');
    const first = await session.connectLoad(0);
    const dropped = await session.pool.drop();
    session.log(`dropped ${dropped} connections at once`);
    const releasedSeconds = await connectionsDownTo(
      context.population.real.length,
      () => server.connections(),
      120_000,
    );
    session.log(`released after ${releasedSeconds.toFixed(1)} s; reconnecting every client at once`);
    const reconnect = await session.connectLoad(0);
    await session.probe(reconnect.connected);
    return { first, reconnect, releasedSeconds };
  },
};
