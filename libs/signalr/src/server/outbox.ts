/** Something with messages waiting to be written as one frame. */
export interface Flushable {
  flush(): void;
}

/**
 * Gathers the connections that were given messages while one callback ran (typically one read
 * from the broker: every delivery in it) and writes each one's messages as a single WebSocket
 * frame once it returns (several SignalR messages in one frame is valid framing in both hub
 * protocols). Under load a burst of deliveries read in one go then costs one write per socket
 * instead of one per message. The flush is a microtask, not the next turn of the event loop:
 * waiting for the turn's other I/O batched more but added its time to every message's latency.
 */
export class Outbox {
  private dirty: Flushable[] = [];
  private scheduled = false;

  add(connection: Flushable): void {
    this.dirty.push(connection);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flushAll());
  }

  private flushAll(): void {
    this.scheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (const connection of dirty) connection.flush();
  }
}
