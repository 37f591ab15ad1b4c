import { io, type Socket } from 'socket.io-client';

import { PushType } from '@herald/contracts';
import { HubClient, type ReceivedInvocation } from '@herald/testing';

import { SENT_AT_FIELD } from '../feed/delivery-feed';
import { type RealClientSpec } from '../population';
import { type ClientWire } from './load-protocol';

/** Which of its groups a message reached a real client through. */
export type ReceivedVia = 'user' | 'organization' | 'everyone';

/** One real client: what it got, by group, and everything that was wrong. */
class RealClient {
  readonly received: Record<ReceivedVia, number> = { user: 0, organization: 0, everyone: 0 };
  readonly problems: string[] = [];
  stopping = false;

  constructor(
    readonly spec: RealClientSpec,
    private readonly everyoneId: string,
    private readonly wire: ClientWire,
  ) {}

  /** Checks one message on the spot: right target, a SyncCipherUpdate, and meant for this client. */
  check(target: string, argument: unknown): void {
    const problem = this.problemWith(target, argument);
    if (problem && this.problems.length < 20) this.problems.push(problem);
  }

  private problemWith(target: string, argument: unknown): string | undefined {
    if (target !== 'ReceiveMessage') return `unexpected target ${target}`;
    const message = argument as { ContextId?: unknown; Type?: unknown; Payload?: Record<string, unknown> };
    if (message?.Type !== PushType.SyncCipherUpdate) return `unexpected Type ${String(message?.Type)}`;
    if (message.ContextId !== null && typeof message.ContextId !== 'string')
      return 'ContextId is not a string';
    const payload = message.Payload;
    if (!payload || typeof payload.Id !== 'string' || typeof payload[SENT_AT_FIELD] !== 'number') {
      return `malformed Payload ${JSON.stringify(payload)}`;
    }
    // MessagePack carries the date as a timestamp (a Date here); Socket.IO's JSON as an ISO string.
    const revision = payload.RevisionDate;
    if (this.wire === 'signalr' ? !(revision instanceof Date) : typeof revision !== 'string') {
      return `RevisionDate is ${typeof revision}`;
    }
    if (typeof payload.UserId === 'string') {
      if (payload.UserId !== this.spec.userId) return `got user ${payload.UserId}'s message`;
      this.received.user += 1;
    } else if (typeof payload.OrganizationId === 'string') {
      if (!this.spec.organizationIds.includes(payload.OrganizationId)) {
        return `got organization ${payload.OrganizationId}'s message`;
      }
      this.received[payload.OrganizationId === this.everyoneId ? 'everyone' : 'organization'] += 1;
    } else {
      return 'message names neither a user nor an organization';
    }
    return undefined;
  }
}

/**
 * A handful of real clients in every run, beside the load generator's bare sockets: the official
 * `@microsoft/signalr` client (MessagePack) for Herald and the floor, `socket.io-client` for
 * Socket.IO. Each checks every message it gets; `verify` fails the run loudly on any problem,
 * on a connection the server closed, or when a group's probe did not arrive.
 */
export class RealClients {
  private readonly stops: (() => Promise<void>)[] = [];
  private readonly drains: (() => void)[] = [];

  private constructor(private readonly clients: RealClient[]) {}

  static async connect(
    wire: ClientWire,
    httpUrl: string,
    specs: RealClientSpec[],
    everyoneId: string,
  ): Promise<RealClients> {
    const clients = new RealClients(specs.map((spec) => new RealClient(spec, everyoneId, wire)));
    try {
      for (const client of clients.clients) {
        if (wire === 'signalr') await clients.connectSignalR(client, httpUrl);
        else await clients.connectSocketIo(client, httpUrl);
      }
    } catch (error) {
      await clients.stop();
      throw error;
    }
    return clients;
  }

  get specs(): RealClientSpec[] {
    return this.clients.map((client) => client.spec);
  }

  /** Whether every client has received at least `least` messages through each of `groups`. */
  received(groups: ReceivedVia[], least: Record<ReceivedVia, number>): boolean {
    this.drain();
    return this.clients.every((client) => groups.every((via) => client.received[via] >= least[via]));
  }

  /** What every client got so far, by group. */
  counts(): Record<ReceivedVia, number>[] {
    this.drain();
    return this.clients.map((client) => ({ ...client.received }));
  }

  /** Throws with every problem seen so far. */
  verify(): void {
    this.drain();
    const problems = this.clients.flatMap((client, index) =>
      client.problems.map((problem) => `real client ${index + 1}: ${problem}`),
    );
    if (problems.length > 0)
      throw new Error(`the real clients saw wrong traffic:\n  ${problems.join('\n  ')}`);
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.stopping = true;
    await Promise.all(this.stops.map((stop) => stop()));
  }

  private drain(): void {
    for (const drain of this.drains) drain();
  }

  private async connectSignalR(client: RealClient, httpUrl: string): Promise<void> {
    const hub = await HubClient.connect(httpUrl, { token: client.spec.token, protocol: 'messagepack' });
    hub.connection.onclose((error) => {
      if (!client.stopping) client.problems.push(`closed by the server: ${error?.message ?? 'no error'}`);
    });
    // HubClient records every invocation; they are checked (and let go) whenever figures are read.
    this.drains.push(() => {
      const received: ReceivedInvocation[] = hub.received.splice(0);
      for (const invocation of received) {
        if (invocation.target !== 'Heartbeat') client.check(invocation.target, invocation.args[0]);
      }
    });
    this.stops.push(() => hub.stop());
  }

  private async connectSocketIo(client: RealClient, url: string): Promise<void> {
    const socket: Socket = io(url, {
      transports: ['websocket'],
      auth: { token: client.spec.token },
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => reject(error));
    });
    socket.onAny((event: string, argument: unknown) => client.check(event, argument));
    socket.on('disconnect', (reason) => {
      if (!client.stopping) client.problems.push(`disconnected: ${reason}`);
    });
    this.stops.push(() => {
      socket.disconnect();
      return Promise.resolve();
    });
  }
}
