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
  /**
   * The revision each connection's `connected` record was written at, while it is open here: its
   * close is then one compare-and-set on that revision instead of a read and a write.
   */
  private readonly written = new Map<string, { connectionId: string; revision: number }>();

  private constructor(
    private readonly client: NatsClient,
    private readonly kv: KV,
  ) {}

  static async open(client: NatsClient, ttlMs: number, replicas = 1): Promise<NatsPresenceStore> {
    const kv = await openBucket(client, client.names.buckets.presence, { ttlMs, replicas });
    return new NatsPresenceStore(client, kv);
  }

  async get(userId: string, device: string): Promise<PresenceRecord | undefined> {
    await this.client.nextTurn();
    const entry = await this.kv.get(keyOf(userId, device));
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return entry.json<PresenceRecord>();
  }

  async markConnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'connected' }>,
  ): Promise<void> {
    const key = keyOf(userId, device);
    await this.client.nextTurn();
    const revision = await this.kv.put(key, JSON.stringify(record));
    this.written.set(key, { connectionId: record.connectionId, revision });
  }

  async markDisconnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'disconnected' }>,
  ): Promise<void> {
    const key = keyOf(userId, device);
    const written = this.written.get(key);
    if (written?.connectionId === record.connectionId) this.written.delete(key);
    await this.client.nextTurn();
    if (written?.connectionId === record.connectionId) {
      try {
        await this.kv.update(key, JSON.stringify(record), written.revision);
        return;
      } catch (error) {
        // Written since (a newer connection, or this one's record expired): read it and decide.
        if (!/wrong last sequence/i.test(String(error))) throw error;
      }
    }
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
