import { Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

import { ClientType, type Delivery, HubName } from '@herald/contracts';
import { type HubProtocol, MessageType } from '@herald/signalr';

import { type GatewayConnection, type UserConnection } from './gateway-connection';
import { ReplayState } from './replay-state';
import { syncVaultDelivery } from './sync-vault';

/** One delivery, encoded at most once per hub protocol and shared by every socket it goes to. */
class DeliveryFrames {
  private readonly frames = new Map<HubProtocol['name'], Buffer>();

  constructor(readonly delivery: Delivery) {}

  frameFor(protocol: HubProtocol): Buffer {
    let frame = this.frames.get(protocol.name);
    if (!frame) {
      frame = protocol.writeMessage({
        type: MessageType.Invocation,
        target: this.delivery.method,
        arguments: [this.delivery.message],
      });
      this.frames.set(protocol.name, frame);
    }
    return frame;
  }
}

/**
 * The one way a delivery reaches a socket. Live and caught-up traffic fans out to a group's
 * members (filtered by hub and client type; held for a member whose replay runs); a replay's
 * backlog, the traffic held meanwhile and SyncVaults go to one connection. Every write is
 * encoded once per protocol, counted and measured here.
 */
@Injectable()
export class FanOutWriter {
  private readonly writes: Counter<'hub'>;
  private bytes = 0;
  private readonly now = () => performance.now();

  constructor(
    private readonly replayState: ReplayState,
    registry: Registry,
  ) {
    this.writes = new Counter({
      name: 'herald_gateway_messages_written_total',
      help: 'Notification messages written to client sockets',
      labelNames: ['hub'],
      registers: [registry],
    });
  }

  /** Bytes written to sockets since start. */
  get bytesWritten(): number {
    return this.bytes;
  }

  /** Live (or caught-up) traffic of one group: decoded once, encoded once per protocol, same bytes to all. */
  fanOut(members: Iterable<GatewayConnection>, delivery: Delivery): void {
    const frames = new DeliveryFrames(delivery);
    // One clock read and one counter update per fan-out, not per socket.
    const now = this.now();
    let written = 0;
    let bytes = 0;
    for (const connection of members) {
      if (!accepts(connection, delivery) || this.replayState.keep(connection, delivery)) continue;
      const sent = this.send(connection, frames, now);
      if (sent > 0) {
        written += 1;
        bytes += sent;
      }
    }
    this.count(delivery.hub, written, bytes);
  }

  /** A replay's backlog to a connection whose live traffic is held; returns the event ids sent. */
  replay(connection: GatewayConnection, backlog: readonly Delivery[]): Set<string> {
    const sent = new Set<string>();
    for (const delivery of backlog) {
      this.write(connection, new DeliveryFrames(delivery));
      sent.add(delivery.eventId);
    }
    return sent;
  }

  /**
   * Ends a replay: writes what was held, except events the replay already sent, and switches the
   * connection to live traffic. False when too much was held (the caller sends a SyncVault).
   */
  releaseHeld(connection: GatewayConnection, alreadySent: ReadonlySet<string>): boolean {
    const held = this.replayState.release(connection);
    if (held === 'overflow') return false;
    for (const delivery of held) {
      if (!alreadySent.has(delivery.eventId)) this.write(connection, new DeliveryFrames(delivery));
    }
    return true;
  }

  /** One SyncVault (the device downloads its vault again). */
  syncVault(connection: UserConnection, now = new Date()): boolean {
    return this.write(connection, new DeliveryFrames(syncVaultDelivery(connection.identity.userId, now)));
  }

  /** One delivery to one connection, counted. */
  private write(connection: GatewayConnection, frames: DeliveryFrames): boolean {
    const sent = this.send(connection, frames, this.now());
    this.count(frames.delivery.hub, sent > 0 ? 1 : 0, sent);
    return sent > 0;
  }

  /** Queues the delivery's frame for the connection's protocol; the bytes queued, 0 if none. */
  private send(connection: GatewayConnection, frames: DeliveryFrames, now: number): number {
    const protocol = connection.protocol;
    if (!protocol) return 0;
    const frame = frames.frameFor(protocol);
    return connection.sendEncoded(frame, now) ? frame.length : 0;
  }

  private count(hub: Delivery['hub'], messages: number, bytes: number): void {
    if (messages === 0) return;
    this.writes.inc({ hub }, messages);
    this.bytes += bytes;
  }
}

/** The delivery is for this connection's hub and client type. */
function accepts(connection: GatewayConnection, delivery: Delivery): boolean {
  const identity = connection.identity;
  const hub = identity.kind === 'anonymous' ? HubName.Anonymous : HubName.Main;
  if (delivery.hub !== hub) return false;
  return delivery.clientType === ClientType.All || delivery.clientType === identity.clientType;
}
