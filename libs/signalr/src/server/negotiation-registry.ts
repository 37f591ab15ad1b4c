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
  /** Who negotiated it (as the hub counts clients), while it is pending. */
  client: string;
  expiresAt: number;
  used: boolean;
}

export type ClaimResult =
  { ok: true; connectionId: string } | { ok: false; status: 404 | 409; reason: string };

/** A negotiation, or why there is none: too many pending overall, or from this client. */
export type NegotiateResult = { response: NegotiateResponse } | { refused: 'pending' | 'client' };

export interface NegotiationLimits {
  /** How long a negotiated token may wait for its WebSocket. */
  ttlMs: number;
  /** Tokens kept at once (pending, or held by an open connection). */
  maxPending: number;
  /** Tokens one client may have pending (negotiated, neither claimed nor expired). */
  maxPendingPerClient: number;
}

/**
 * Connections announced by negotiate and not yet (or already) opened. A token may open one
 * WebSocket once, on the hub that issued it, before it expires; while that connection is open a
 * second use is told 409, and once it closed (`release`) the token is unknown (404). Negotiate
 * needs no more than the hub's authorization (none, on an anonymous hub), so besides the global
 * cap each client may have only so many tokens pending: one client cannot fill the table. A
 * claimed token no longer counts for its client, so many connections behind one address are fine.
 */
export class NegotiationRegistry {
  private readonly byToken = new Map<string, Negotiated>();
  /** client -> its pending tokens. */
  private readonly pendingByClient = new Map<string, Set<string>>();

  constructor(private readonly limits: NegotiationLimits) {}

  negotiate(hub: string, version: number, now: number, client: string): NegotiateResult {
    if (this.pendingOf(client, now) >= this.limits.maxPendingPerClient) return { refused: 'client' };
    if (this.byToken.size >= this.limits.maxPending) {
      this.expire(now);
      if (this.byToken.size >= this.limits.maxPending) return { refused: 'pending' };
    }
    const connectionId = randomBytes(16).toString('base64url');
    // Version 0 clients send the connection id itself as `id`; version 1 a separate secret token.
    const connectionToken = version >= 1 ? randomBytes(16).toString('base64url') : connectionId;
    this.byToken.set(connectionToken, {
      hub,
      connectionId,
      client,
      expiresAt: now + this.limits.ttlMs,
      used: false,
    });
    let pending = this.pendingByClient.get(client);
    if (!pending) this.pendingByClient.set(client, (pending = new Set()));
    pending.add(connectionToken);
    return {
      response: {
        ...(version >= 1 ? { negotiateVersion: 1, connectionToken } : {}),
        connectionId,
        availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text', 'Binary'] }],
      },
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
    this.unpend(entry.client, token);
    return { ok: true, connectionId: entry.connectionId };
  }

  release(token: string): void {
    const entry = this.byToken.get(token);
    if (!entry) return;
    this.byToken.delete(token);
    this.unpend(entry.client, token);
  }

  expire(now: number): void {
    for (const [token, entry] of this.byToken) {
      if (entry.expiresAt <= now) this.release(token);
    }
  }

  get size(): number {
    return this.byToken.size;
  }

  /** How many tokens `client` has pending, once its expired ones are let go of (at most the cap to scan). */
  private pendingOf(client: string, now: number): number {
    const pending = this.pendingByClient.get(client);
    if (!pending) return 0;
    for (const token of pending) {
      const entry = this.byToken.get(token);
      if (!entry) this.unpend(client, token);
      else if (entry.expiresAt <= now) this.release(token);
    }
    return this.pendingByClient.get(client)?.size ?? 0;
  }

  private unpend(client: string, token: string): void {
    const pending = this.pendingByClient.get(client);
    if (!pending) return;
    pending.delete(token);
    if (pending.size === 0) this.pendingByClient.delete(client);
  }
}
