/**
 * The real clients' own process: a handful of official clients (`@microsoft/signalr` with
 * MessagePack for Herald and the floor, `socket.io-client` for Socket.IO) that check every message
 * they get. Kept out of the harness's process, which feeds NATS as fast as the server keeps up:
 * there their keep-alive could starve and the server would rightly close them.
 */
import { io, type Socket } from 'socket.io-client';

import { PushType } from '@herald/contracts';
import { HubClient, type ReceivedInvocation } from '@herald/testing';

import { SENT_AT_FIELD } from '../feed/delivery-feed';
import {
  type ClientWire,
  type RealClientSpec,
  type RealCommand,
  type RealReply,
  type ReceivedVia,
} from './load-protocol';

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

const clients: RealClient[] = [];
const stops: (() => Promise<void>)[] = [];
const drains: (() => void)[] = [];

async function connectSignalR(client: RealClient, url: string): Promise<void> {
  const hub = await HubClient.connect(url, { token: client.spec.token, protocol: 'messagepack' });
  hub.connection.onclose((error) => {
    if (!client.stopping) client.problems.push(`closed by the server: ${error?.message ?? 'no error'}`);
  });
  // HubClient records every invocation (whatever its target); checked and let go as they come.
  const drain = () => {
    const received: ReceivedInvocation[] = hub.received.splice(0);
    for (const invocation of received) {
      if (invocation.target !== 'Heartbeat') client.check(invocation.target, invocation.args[0]);
    }
  };
  hub.connection.on('ReceiveMessage', drain);
  drains.push(drain);
  stops.push(() => hub.stop());
}

async function connectSocketIo(client: RealClient, url: string): Promise<void> {
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
  stops.push(() => {
    socket.disconnect();
    return Promise.resolve();
  });
}

async function handle(message: RealCommand): Promise<RealReply> {
  switch (message.command) {
    case 'connect':
      try {
        for (const spec of message.specs) {
          const client = new RealClient(spec, message.everyoneId, message.wire);
          clients.push(client);
          if (message.wire === 'signalr') await connectSignalR(client, message.url);
          else await connectSocketIo(client, message.url);
        }
        return { command: 'connect' };
      } catch (error) {
        return { command: 'connect', error: error instanceof Error ? error.message : String(error) };
      }
    case 'counts':
      for (const drain of drains) drain();
      return {
        command: 'counts',
        counts: clients.map((client) => ({ ...client.received })),
        problems: clients.flatMap((client, index) =>
          client.problems.map((problem) => `real client ${index + 1}: ${problem}`),
        ),
      };
    case 'stop':
      for (const client of clients) client.stopping = true;
      await Promise.all(stops.map((stop) => stop()));
      return { command: 'stop' };
  }
}

process.on('message', (message: { id: number } & RealCommand) => {
  const { id } = message;
  void handle(message).then((reply) => process.send?.({ id, ...reply }));
});
// The harness is gone (even killed): nothing left to check for.
process.on('disconnect', () => process.exit(0));
