import { createHash } from 'node:crypto';

import { type KV } from 'nats';

import { type PresenceRecord, type PresenceStore } from '../ports';
import { type NatsClient } from './nats-client';
import { openBucket } from './topology';

/** KV keys allow a limited alphabet; device identifiers are free text, so they are hashed. */
function keyOf(userId: string, device: string): string {
  return `${userId}.${createHash('sha256').update(device).digest('base64url').slice(0, 32)}`;
}

/** The presence bucket: one entry per device, expiring with the replay window. */
export class NatsPresenceStore implements PresenceStore {
  private constructor(private readonly kv: KV) {}

  static async open(client: NatsClient, ttlMs: number, replicas = 1): Promise<NatsPresenceStore> {
    const kv = await openBucket(client, client.names.buckets.presence, { ttlMs, replicas });
    return new NatsPresenceStore(kv);
  }

  async get(userId: string, device: string): Promise<PresenceRecord | undefined> {
    const entry = await this.kv.get(keyOf(userId, device));
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return entry.json<PresenceRecord>();
  }

  async markConnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'connected' }>,
  ): Promise<void> {
    await this.kv.put(keyOf(userId, device), JSON.stringify(record));
  }

  async markDisconnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'disconnected' }>,
  ): Promise<void> {
    const key = keyOf(userId, device);
    // Compare-and-set: only the connection that owns the entry may close it.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const entry = await this.kv.get(key);
      const current =
        entry && entry.operation === 'PUT' && entry.length > 0 ? entry.json<PresenceRecord>() : undefined;
      if (current && current.connectionId !== record.connectionId) return;
      try {
        if (entry) await this.kv.update(key, JSON.stringify(record), entry.revision);
        else await this.kv.create(key, JSON.stringify(record));
        return;
      } catch (error) {
        if (!/wrong last sequence|exists/i.test(String(error))) throw error;
      }
    }
  }
}
