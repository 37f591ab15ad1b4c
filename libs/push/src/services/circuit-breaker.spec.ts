import { describe, expect, it } from '@jest/globals';

import { CircuitBreaker, Semaphore } from './circuit-breaker';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreaker', () => {
  const threshold = 5;
  const openMs = 30_000;

  function failingBreaker() {
    const clock = manualClock();
    const breaker = new CircuitBreaker(threshold, openMs, clock.now);
    for (let failure = 0; failure < threshold; failure += 1) breaker.recordFailure();
    return { breaker, clock };
  }

  it('lets every attempt through while fewer than five failures in a row', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker(threshold, openMs, clock.now);
    for (let failure = 0; failure < threshold - 1; failure += 1) {
      breaker.recordFailure();
      expect(breaker.blockedFor()).toBe(0);
    }
    expect(breaker.state).toBe('closed');
  });

  it('counts only failures in a row: a success starts the count again', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker(threshold, openMs, clock.now);
    for (let failure = 0; failure < threshold - 1; failure += 1) breaker.recordFailure();
    breaker.recordSuccess();
    for (let failure = 0; failure < threshold - 1; failure += 1) breaker.recordFailure();
    expect(breaker.state).toBe('closed');
    expect(breaker.blockedFor()).toBe(0);
  });

  it('opens on the fifth failure in a row and blocks for the rest of 30 s', () => {
    const { breaker, clock } = failingBreaker();
    expect(breaker.state).toBe('open');
    expect(breaker.blockedFor()).toBe(openMs);
    clock.advance(12_000);
    expect(breaker.blockedFor()).toBe(18_000);
    clock.advance(17_999);
    expect(breaker.blockedFor()).toBe(1);
    expect(breaker.state).toBe('open');
  });

  it('after 30 s lets one probe through and holds the others back while it is out', () => {
    const { breaker, clock } = failingBreaker();
    clock.advance(openMs);
    expect(breaker.state).toBe('half-open');
    expect(breaker.blockedFor()).toBe(0); // the probe
    expect(breaker.blockedFor()).toBe(3000); // everyone else: a tenth of the open time
    expect(breaker.blockedFor()).toBe(3000);
  });

  it('holds the others back at least a second while probing, however short the open time', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker(1, 2000, clock.now);
    breaker.recordFailure();
    clock.advance(2000);
    expect(breaker.blockedFor()).toBe(0);
    expect(breaker.blockedFor()).toBe(1000);
  });

  it('closes when the probe succeeds', () => {
    const { breaker, clock } = failingBreaker();
    clock.advance(openMs);
    expect(breaker.blockedFor()).toBe(0);
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    expect(breaker.blockedFor()).toBe(0);
    expect(breaker.blockedFor()).toBe(0);
  });

  it('opens for another 30 s when the probe fails', () => {
    const { breaker, clock } = failingBreaker();
    clock.advance(openMs + 5000);
    expect(breaker.blockedFor()).toBe(0);
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
    expect(breaker.blockedFor()).toBe(openMs);
    clock.advance(openMs);
    expect(breaker.blockedFor()).toBe(0); // the next probe
  });
});

/** A piece of work the test finishes by hand, recording how many ran at once. */
function gate() {
  let running = 0;
  let most = 0;
  const started: string[] = [];
  const pending = new Map<string, () => void>();
  const work =
    (name: string, fail = false) =>
    async () => {
      running += 1;
      most = Math.max(most, running);
      started.push(name);
      await new Promise<void>((resolve) => pending.set(name, resolve));
      running -= 1;
      if (fail) throw new Error(`${name} failed`);
      return name;
    };
  const finish = (name: string) => {
    const resolve = pending.get(name);
    if (!resolve) throw new Error(`${name} has not started`);
    pending.delete(name);
    resolve();
  };
  return { work, finish, started, most: () => most };
}

/** Runs every queued promise continuation: all the semaphore's work is in-process. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Semaphore', () => {
  it('runs at most `limit` at a time and starts the waiting ones in order as slots free up', async () => {
    const semaphore = new Semaphore(2);
    const { work, finish, started, most } = gate();
    const results = ['a', 'b', 'c', 'd', 'e'].map((name) => semaphore.run(work(name)));
    await settle();
    expect(started).toEqual(['a', 'b']);

    finish('b');
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    finish('a');
    finish('c');
    await settle();
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
    finish('d');
    finish('e');
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(most()).toBe(2);
  });

  it('frees the slot of work that throws', async () => {
    const semaphore = new Semaphore(1);
    const { work, finish, started } = gate();
    const failing = semaphore.run(work('a', true));
    const next = semaphore.run(work('b'));
    await settle();
    expect(started).toEqual(['a']);
    finish('a');
    await expect(failing).rejects.toThrow('a failed');
    await settle();
    expect(started).toEqual(['a', 'b']);
    finish('b');
    expect(await next).toBe('b');
  });

  it('runs with tryRun only in a free slot, and is busy while anything runs', async () => {
    const semaphore = new Semaphore(2);
    const { work, finish, started } = gate();
    expect(semaphore.busy).toBe(false);
    const first = semaphore.tryRun(work('a'));
    const second = semaphore.tryRun(work('b'));
    await settle();
    expect(semaphore.busy).toBe(true);

    expect(semaphore.tryRun(work('c'))).toBeUndefined();
    await settle();
    expect(started).toEqual(['a', 'b']);

    finish('a');
    expect(await first).toBe('a');
    const third = semaphore.tryRun(work('c'));
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    finish('b');
    finish('c');
    expect(await Promise.all([second, third])).toEqual(['b', 'c']);
    expect(semaphore.busy).toBe(false);
  });

  it('gives tryRun no slot that is handed to a waiter', async () => {
    const semaphore = new Semaphore(1);
    const { work, finish, started, most } = gate();
    const first = semaphore.run(work('first'));
    const waiter = semaphore.run(work('waiter'));
    await settle();
    finish('first');
    expect(semaphore.tryRun(work('newcomer'))).toBeUndefined();
    await settle();
    finish('waiter');
    await Promise.all([first, waiter]);
    expect(started).toEqual(['first', 'waiter']);
    expect(most()).toBe(1);
    expect(semaphore.busy).toBe(false);
  });

  it('never lets a newcomer take the slot a waiting caller was given', async () => {
    // The newcomer arrives after the slot was freed but before the waiter it was handed to resumes.
    for (let ticks = 0; ticks < 6; ticks += 1) {
      const semaphore = new Semaphore(1);
      const { work, finish, started, most } = gate();
      const first = semaphore.run(work('first'));
      const waiter = semaphore.run(work('waiter'));
      await settle();
      finish('first');
      for (let tick = 0; tick < ticks; tick += 1) await Promise.resolve();
      const newcomer = semaphore.run(work('newcomer'));
      await settle();
      expect({ ticks, started: started.slice(0, 2) }).toEqual({ ticks, started: ['first', 'waiter'] });
      finish('waiter');
      await settle();
      finish('newcomer');
      await Promise.all([first, waiter, newcomer]);
      expect({ ticks, most: most() }).toEqual({ ticks, most: 1 });
    }
  });
});
