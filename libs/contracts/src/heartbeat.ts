/**
 * What every gateway publishes on `<ns>.heartbeat.<gatewayId>` every 5 s, and keeps in the
 * `gateways` bucket. WIRE SHAPE between gateways and the heartbeat service (and replay, which
 * reads `watermark` of dead gateways).
 */
export interface GatewayHeartbeat {
  gatewayId: string;
  host: string;
  version: string;
  /** ms since epoch */
  startedAt: number;
  /** ms since epoch, when this beat was taken */
  at: number;
  connections: { hub: number; 'anonymous-hub': number };
  /** Distinct users with a connection on this gateway. */
  users: number;
  /** Delivery subjects this gateway is subscribed to. */
  subscriptions: number;
  deliveriesPerSecond: number;
  bytesPerSecond: number;
  /** Connections closed as too slow since start. */
  slowClosed: number;
  /** Reconnections sent a replay or a SyncVault since start. */
  replays: number;
  /** Every delivery up to this DELIVERIES sequence had been handed to this gateway's sockets. */
  watermark: number;
}

/**
 * What every push worker publishes on `<ns>.heartbeat.push.<workerId>` every 5 s: its push
 * outcomes since start, by provider. WIRE SHAPE.
 */
export interface PushWorkerHeartbeat {
  workerId: string;
  host: string;
  version: string;
  startedAt: number;
  at: number;
  sends: Record<string, Record<string, number>>;
}
