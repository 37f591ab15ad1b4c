import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a loopback port in front of one upstream port, for cutting a single service's
 * link (e.g. one gateway's NATS connection) while everything else stays connected. `sever()`
 * resets every open connection and refuses new ones (accepted, then reset at once) until
 * `restore()`; the listening port stays the same, so the client reconnects to the same URL.
 */
export class TcpProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private severed = false;
  /** Connections accepted since start, refused ones included; for diagnostics. */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly upstreamPort: number,
    private readonly upstreamHost: string,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listens on a free loopback port and forwards to `upstreamHost:upstreamPort`. */
  static async start(upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new TcpProxy(server, (server.address() as AddressInfo).port, upstreamPort, upstreamHost);
  }

  /** `nats://` URL of the proxy, for a service's `HERALD_NATS_URL`. */
  get natsUrl(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Open client ↔ upstream pairs. */
  get connections(): number {
    return this.pairs.size;
  }

  get isSevered(): boolean {
    return this.severed;
  }

  /** Resets every open connection (both sides) and refuses new ones until `restore()`. */
  sever(): void {
    this.severed = true;
    for (const pair of this.pairs) for (const socket of pair) socket.resetAndDestroy();
    this.pairs.clear();
  }

  /** Accepts and forwards connections again. */
  restore(): void {
    this.severed = false;
  }

  /** Closes every connection and stops listening. */
  async close(): Promise<void> {
    this.sever();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    if (this.severed) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: this.upstreamHost, port: this.upstreamPort });
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const drop = () => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) {
      socket.setNoDelay(true);
      // A reset or a close on either side ends the pair; errors are expected when severing.
      socket.on('error', drop);
      socket.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
