import { describe, expect, it } from '@jest/globals';

import { NextRound } from './next-round';

/** A call whose completions the test controls, numbered in the order they started. */
function controlledCall() {
  const started: { resolve: (value: number) => void }[] = [];
  const call = () =>
    new Promise<number>((resolve) => {
      const number = started.length + 1;
      started.push({ resolve: () => resolve(number) });
    });
  return { started, call };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('NextRound', () => {
  it('shares one call among the callers of one turn', async () => {
    const { started, call } = controlledCall();
    const round = new NextRound(call);
    const results = Promise.all([round.run(), round.run(), round.run()]);
    await turn();
    expect(started).toHaveLength(1);
    started[0]!.resolve(0);
    expect(await results).toEqual([1, 1, 1]);
  });

  it('never hands a caller the result of a call that started before it asked', async () => {
    const { started, call } = controlledCall();
    const round = new NextRound(call);
    const early = round.run();
    await turn();
    expect(started).toHaveLength(1);
    // The first call is on the wire; a caller now must wait for a call of its own.
    const late = round.run();
    await turn();
    expect(started).toHaveLength(2);
    started[0]!.resolve(0);
    started[1]!.resolve(0);
    expect([await early, await late]).toEqual([1, 2]);
  });

  it('passes a failure to the callers of that round only', async () => {
    let calls = 0;
    const round = new NextRound(() => {
      calls += 1;
      return calls === 1 ? Promise.reject(new Error('no responders')) : Promise.resolve(calls);
    });
    const failed = Promise.allSettled([round.run(), round.run()]);
    expect((await failed).map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await round.run()).toBe(2);
  });
});
