/**
 * Everything the harness must undo, whatever happens: child processes, NATS namespaces. Each
 * step is registered when the thing exists and runs once, on success, failure or Ctrl-C.
 */
export class Teardown {
  private readonly steps = new Set<() => Promise<void>>();

  /** Registers a step; returns a function that runs it now (once) and forgets it. */
  add(step: () => Promise<void>): () => Promise<void> {
    let done: Promise<void> | undefined;
    const once = () => {
      this.steps.delete(once);
      done ??= step();
      return done;
    };
    this.steps.add(once);
    return once;
  }

  /** Runs every step still registered, newest first, each even if another failed. */
  async run(): Promise<void> {
    for (const step of [...this.steps].reverse()) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`[bench] teardown: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
}
