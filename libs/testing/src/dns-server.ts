import { createSocket, type Socket } from 'node:dgram';

import * as packet from 'dns-packet';

/**
 * A DNS server on loopback that answers A queries from a table it is given, as Docker's embedded
 * DNS answers a service name with the address of every replica. Lets the edge proxy's own
 * configuration (`dynamic a` upstreams) run for real against gateways on 127.0.0.x.
 */
export class DnsServer {
  private constructor(
    private readonly socket: Socket,
    private readonly records: Map<string, string[]>,
  ) {}

  /** `host:port` to give a resolver setting. */
  get address(): string {
    const { address, port } = this.socket.address();
    return `${address}:${port}`;
  }

  static async start(records: Record<string, string[]>): Promise<DnsServer> {
    const socket = createSocket('udp4');
    const server = new DnsServer(
      socket,
      new Map(Object.entries(records).map(([name, addresses]) => [name.toLowerCase(), addresses])),
    );
    socket.on('message', (message, remote) => {
      let query: packet.Packet;
      try {
        query = packet.decode(message);
      } catch {
        return; // not DNS: ignore, as a server would
      }
      const question = query.questions?.[0];
      const addresses = question ? server.records.get(question.name.toLowerCase()) : undefined;
      const answers: packet.Answer[] =
        question?.type === 'A' && addresses
          ? addresses.map((data) => ({ type: 'A', name: question.name, ttl: 1, class: 'IN', data }))
          : [];
      const response = packet.encode({
        id: query.id,
        type: 'response',
        flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (addresses ? 0 : 3), // 3: NXDOMAIN
        questions: query.questions,
        answers,
      });
      socket.send(response, remote.port, remote.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return server;
  }

  /** Replaces what `name` resolves to (replicas added or removed). */
  set(name: string, addresses: string[]): void {
    this.records.set(name.toLowerCase(), addresses);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
