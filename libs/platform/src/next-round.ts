/**
 * One broker round trip shared by everyone who asks for it in the same turn of the event loop.
 * Each caller gets the result of a call that started after it asked, never of one already in
 * flight, so what it learns is as fresh as if it had asked alone: a storm of ten thousand
 * connections costs one flush or one stream-info request per turn instead of one per connection.
 */
export class NextRound<T> {
  private gathering: Promise<T> | undefined;

  constructor(private readonly call: () => Promise<T>) {}

  run(): Promise<T> {
    this.gathering ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      // Whoever asks from now on waits for the next round: this call may already be on the wire.
      this.gathering = undefined;
      return this.call();
    });
    return this.gathering;
  }
}

/**
 * Resolves in the next turn of the event loop, together with every other caller of this turn:
 * broker commands issued right after it leave in one socket write instead of one each (nats.js
 * writes what is pending at the end of the current microtask checkpoint).
 */
export class SharedTurn {
  private readonly round = new NextRound(() => Promise.resolve());

  next(): Promise<void> {
    return this.round.run();
  }
}
