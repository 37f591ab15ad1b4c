import { type GatewayHeartbeat, heartbeatCodec } from '@herald/contracts';

import { type GatewayBeat, type GatewayDirectory, type PresenceRecord, type PresenceStore } from '../ports';
import { type MemoryCore } from './memory-core';

const keyOf = (userId: string, device: string) => JSON.stringify([userId, device]);

/** The presence bucket in memory; every method runs to completion, so compare-and-set is atomic. */
export class MemoryPresenceStore implements PresenceStore {
  constructor(private readonly core: MemoryCore) {}

  get(userId: string, device: string): Promise<PresenceRecord | undefined> {
    const entry = this.core.buckets.presence.get(keyOf(userId, device));
    return Promise.resolve(entry && (JSON.parse(entry.value) as PresenceRecord));
  }

  markConnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'connected' }>,
  ): Promise<void> {
    this.core.buckets.presence.put(keyOf(userId, device), JSON.stringify(record));
    return Promise.resolve();
  }

  markDisconnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'disconnected' }>,
  ): Promise<void> {
    const bucket = this.core.buckets.presence;
    const key = keyOf(userId, device);
    const entry = bucket.get(key);
    // Compare-and-set: only the connection that owns the entry may close it.
    const owner = entry && (JSON.parse(entry.value) as PresenceRecord).connectionId;
    if (entry === undefined) bucket.create(key, JSON.stringify(record));
    else if (owner === record.connectionId) bucket.update(key, JSON.stringify(record), entry.revision);
    return Promise.resolve();
  }
}

/** The `gateways` bucket in memory; a beat is also appended to HEARTBEATS, as on NATS. */
export class MemoryGatewayDirectory implements GatewayDirectory {
  constructor(private readonly core: MemoryCore) {}

  put(beat: GatewayBeat): Promise<void> {
    const data = heartbeatCodec.encode({ kind: 'gateway', beat });
    this.core.streams.heartbeats.append(this.core.names.subjects.heartbeat(beat.gatewayId), data);
    this.core.buckets.gateways.put(beat.gatewayId, Buffer.from(data).toString('utf8'));
    return Promise.resolve();
  }

  get(gatewayId: string): Promise<GatewayBeat | undefined> {
    const entry = this.core.buckets.gateways.get(gatewayId);
    return Promise.resolve(entry && (JSON.parse(entry.value) as GatewayHeartbeat));
  }

  async list(): Promise<GatewayBeat[]> {
    const beats = await Promise.all(this.core.buckets.gateways.keys().map((key) => this.get(key)));
    return beats.filter((beat): beat is GatewayBeat => beat !== undefined);
  }
}
