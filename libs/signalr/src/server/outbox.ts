/** Something with messages waiting to be written as one frame. */
export interface Flushable {
  flush(): void;
}

/**
 * Gathers the connections that were given messages during one turn of the event loop and writes
 * each one's messages as a single WebSocket frame at the end of that turn's I/O (several SignalR
 * messages in one frame is valid framing in both hub protocols). Under load a burst of deliveries
 * read from the broker in one go then costs one write per socket instead of one per message.
 */
export class Outbox {
  private dirty: Flushable[] = [];
  private scheduled = false;

  add(connection: Flushable): void {
    this.dirty.push(connection);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flushAll());
  }

  private flushAll(): void {
    this.scheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (const connection of dirty) connection.flush();
  }
}
