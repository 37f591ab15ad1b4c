import { type GatewayHeartbeat } from '@herald/contracts';

/** Where a device stopped receiving, so that its next connection resumes there. */
export type PresenceRecord =
  | {
      state: 'connected';
      connectionId: string;
      gatewayId: string;
      /** Everything after this DELIVERIES sequence reaches the connection live. */
      sinceSequence: number;
      at: number;
    }
  | {
      state: 'disconnected';
      connectionId: string;
      gatewayId: string;
      /** Every delivery up to this DELIVERIES sequence was handed to the connection's socket. */
      resumeSequence: number;
      at: number;
    };

/**
 * Last known position of every device (user id + device identifier), a KV bucket whose entries
 * expire the replay window after their last write. Guarantees:
 * - `markConnected` always wins (the newest connection owns the record);
 * - `markDisconnected` is a compare-and-set: it writes only when the record is missing or belongs
 *   to the same connection, so a late close of an old connection never rewinds a newer one, also
 *   when the two race;
 * - an entry not written for the TTL reads as undefined.
 */
export interface PresenceStore {
  get(userId: string, device: string): Promise<PresenceRecord | undefined>;
  markConnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'connected' }>,
  ): Promise<void>;
  markDisconnected(
    userId: string,
    device: string,
    record: Extract<PresenceRecord, { state: 'disconnected' }>,
  ): Promise<void>;
}
export const PRESENCE_STORE = Symbol('PresenceStore');

/** What each live gateway last reported about itself (its heartbeat). */
export type GatewayBeat = GatewayHeartbeat;

/**
 * The live gateways: each announces its heartbeat every 5 s (published on
 * `<ns>.heartbeat.<gatewayId>`, kept by the HEARTBEATS stream for an hour, and put in the
 * `gateways` bucket, whose entries expire 15 s after the last beat). `list` returns every gateway
 * whose entry has not expired, one entry per gateway (its last beat).
 */
export interface GatewayDirectory {
  put(beat: GatewayBeat): Promise<void>;
  get(gatewayId: string): Promise<GatewayBeat | undefined>;
  list(): Promise<GatewayBeat[]>;
}
export const GATEWAY_DIRECTORY = Symbol('GatewayDirectory');
