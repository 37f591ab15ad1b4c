import { randomBytes } from 'node:crypto';

/** WIRE SHAPE: the negotiate response the SignalR clients parse. */
export interface NegotiateResponse {
  negotiateVersion?: number;
  connectionId: string;
  connectionToken?: string;
  availableTransports: { transport: 'WebSockets'; transferFormats: ('Text' | 'Binary')[] }[];
}

interface Negotiated {
  hub: string;
  connectionId: string;
  expiresAt: number;
  used: boolean;
}

export type ClaimResult =
  { ok: true; connectionId: string } | { ok: false; status: 404 | 409; reason: string };

/**
 * Connections announced by negotiate and not yet (or already) opened. A token may open one
 * WebSocket once, on the hub that issued it, before it expires; while that connection is open a
 * second use is told 409, and once it closed (`release`) the token is unknown (404).
 */
export class NegotiationRegistry {
  private readonly byToken = new Map<string, Negotiated>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxPending: number,
  ) {}

  /** Undefined when too many negotiations are pending (the caller answers 429). */
  negotiate(hub: string, version: number, now: number): NegotiateResponse | undefined {
    if (this.byToken.size >= this.maxPending) {
      this.expire(now);
      if (this.byToken.size >= this.maxPending) return undefined;
    }
    const connectionId = randomBytes(16).toString('base64url');
    // Version 0 clients send the connection id itself as `id`; version 1 a separate secret token.
    const connectionToken = version >= 1 ? randomBytes(16).toString('base64url') : connectionId;
    this.byToken.set(connectionToken, { hub, connectionId, expiresAt: now + this.ttlMs, used: false });
    return {
      ...(version >= 1 ? { negotiateVersion: 1, connectionToken } : {}),
      connectionId,
      availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text', 'Binary'] }],
    };
  }

  claim(hub: string, token: string, now: number): ClaimResult {
    const entry = this.byToken.get(token);
    if (!entry || entry.hub !== hub || entry.expiresAt <= now) {
      return { ok: false, status: 404, reason: 'unknown or expired connection id' };
    }
    if (entry.used) {
      return { ok: false, status: 409, reason: 'connection id already in use' };
    }
    entry.used = true;
    entry.expiresAt = Number.POSITIVE_INFINITY;
    return { ok: true, connectionId: entry.connectionId };
  }

  release(token: string): void {
    this.byToken.delete(token);
  }

  expire(now: number): void {
    for (const [token, entry] of this.byToken) {
      if (entry.expiresAt <= now) this.byToken.delete(token);
    }
  }

  get size(): number {
    return this.byToken.size;
  }
}
