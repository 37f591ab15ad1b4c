/**
 * What both baselines (ws-floor.ts, socketio.ts) share, in their own processes: the groups a
 * token names, one NATS subscription per group held while it has members, and the IPC the
 * harness reads them through. Kept small on purpose: a baseline must not cost more than what a
 * team would write in an afternoon.
 */
import { type NatsConnection, type Subscription } from 'nats';

import { type DeliveryKind, natsNames } from '@herald/contracts';

/** Parent → baseline. */
export type BaselineRequest = { type: 'stats' };

/** Baseline → parent. */
export type BaselineMessage =
  { type: 'listening'; port: number } | { type: 'stats'; connections: number; heapUsed: number };

export interface BaselineEnvironment {
  natsUrl: string;
  namespace: string;
  /** SPKI PEM of the token issuer (Socket.IO verifies tokens; the floor does not). */
  publicKey: string;
  redisUrl: string;
}

export function baselineEnvironment(): BaselineEnvironment {
  const value = (name: string, fallback?: string): string => {
    const found = process.env[name] ?? fallback;
    if (found === undefined) throw new Error(`${name} is not set`);
    return found;
  };
  return {
    natsUrl: value('BENCH_NATS_URL'),
    namespace: value('BENCH_NAMESPACE'),
    publicKey: value('BENCH_JWT_PUBLIC_KEY', ''),
    redisUrl: value('BENCH_REDIS_URL', 'redis://127.0.0.1:6379'),
  };
}

export interface GroupRef {
  kind: Extract<DeliveryKind, 'user' | 'org'>;
  id: string;
}

const ORGANIZATION_CLAIMS = ['orgowner', 'orgadmin', 'orguser', 'orgcustom'];

/** The groups of a token's claims: its user and every organization it names (string or array). */
export function groupsOfClaims(claims: Record<string, unknown>): GroupRef[] | undefined {
  if (typeof claims.sub !== 'string') return undefined;
  const groups: GroupRef[] = [{ kind: 'user', id: claims.sub.toLowerCase() }];
  for (const name of ORGANIZATION_CLAIMS) {
    const value = claims[name];
    for (const id of Array.isArray(value) ? value : [value]) {
      if (typeof id === 'string') groups.push({ kind: 'org', id: id.toLowerCase() });
    }
  }
  return groups;
}

/** The claims of a JWT read without checking its signature (what the floor deliberately skips). */
export function unverifiedClaims(token: string | null): Record<string, unknown> | undefined {
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One core NATS subscription per group while the group has members here, as Herald's gateway
 * holds them; the members are whatever the baseline needs to reach (sockets, or nothing when
 * Socket.IO keeps its rooms itself).
 */
export class GroupSubscriptions<Member> {
  private readonly groups = new Map<string, { members: Set<Member>; subscription: Subscription }>();
  private readonly names: ReturnType<typeof natsNames>;
  private nextFlush: Promise<void> | undefined;

  constructor(
    private readonly connection: NatsConnection,
    namespace: string,
    private readonly onDelivery: (room: string, members: ReadonlySet<Member>, data: Uint8Array) => void,
  ) {
    this.names = natsNames(namespace);
  }

  /** The room name of a group, as the baselines key their rooms. */
  static roomOf(group: GroupRef): string {
    return `${group.kind}.${group.id}`;
  }

  join(group: GroupRef, member: Member): void {
    const room = GroupSubscriptions.roomOf(group);
    const existing = this.groups.get(room);
    if (existing) {
      existing.members.add(member);
      return;
    }
    const members = new Set([member]);
    const subscription = this.connection.subscribe(this.names.subjects.deliver(group.kind, group.id), {
      callback: (error, message) => {
        if (!error) this.onDelivery(room, members, message.data);
      },
    });
    this.groups.set(room, { members, subscription });
  }

  leave(group: GroupRef, member: Member): void {
    const room = GroupSubscriptions.roomOf(group);
    const existing = this.groups.get(room);
    if (!existing) return;
    existing.members.delete(member);
    if (existing.members.size === 0) {
      existing.subscription.unsubscribe();
      this.groups.delete(room);
    }
  }

  /**
   * Resolves once NATS has registered every subscription made before the call: one PING/PONG
   * shared by every caller of the same turn, so that a handshake is answered only when the
   * connection's traffic flows (as Herald's gateway does).
   */
  flushed(): Promise<void> {
    this.nextFlush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.nextFlush = undefined;
      return this.connection.flush();
    });
    return this.nextFlush;
  }
}

/** Announces the port and answers the harness's stats requests. */
export function serveHarness(port: number, connections: () => number): void {
  const send = (message: BaselineMessage) => process.send?.(message);
  process.on('message', (request: BaselineRequest) => {
    if (request.type === 'stats') {
      send({ type: 'stats', connections: connections(), heapUsed: process.memoryUsage().heapUsed });
    }
  });
  // The harness is gone (even killed): a baseline must not outlive it. An ordinary exit on
  // SIGTERM lets Node write a --cpu-prof profile.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  send({ type: 'listening', port });
}
