import { type KV } from 'nats';

import { type GatewayBeat, type GatewayDirectory } from '../ports';
import { type NatsClient } from './nats-client';
import { openBucket } from './topology';

/** A gateway missing three 5-second beats is gone: the TTL of its `gateways` entry. */
export const GATEWAY_BEAT_TTL_MS = 15_000;

/** KV `gateways`: one entry per live gateway; an entry expires when its gateway stops beating. */
export class NatsGatewayDirectory implements GatewayDirectory {
  private constructor(
    private readonly kv: KV,
    private readonly client: NatsClient,
  ) {}

  static async open(
    client: NatsClient,
    ttlMs = GATEWAY_BEAT_TTL_MS,
    replicas = 1,
  ): Promise<NatsGatewayDirectory> {
    const kv = await openBucket(client, client.names.buckets.gateways, { ttlMs, replicas });
    return new NatsGatewayDirectory(kv, client);
  }

  /** Publishes the heartbeat (kept an hour by HEARTBEATS) and puts it in the bucket. */
  async put(beat: GatewayBeat): Promise<void> {
    const body = JSON.stringify(beat);
    this.client.connection.publish(this.client.names.subjects.heartbeat(beat.gatewayId), body);
    await this.kv.put(beat.gatewayId, body);
  }

  async get(gatewayId: string): Promise<GatewayBeat | undefined> {
    const entry = await this.kv.get(gatewayId);
    return entry && entry.operation === 'PUT' && entry.length > 0 ? entry.json<GatewayBeat>() : undefined;
  }

  async list(): Promise<GatewayBeat[]> {
    // Keys first: reading entries while the key listing is still open cuts the listing short.
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    const beats = await Promise.all(keys.map((key) => this.get(key)));
    return beats.filter((beat): beat is GatewayBeat => beat !== undefined);
  }
}
