import { randomUUID } from 'node:crypto';

import {
  type FakeApns,
  type FakeFcm,
  type FakeWebPushEndpoint,
  HubClient,
  type TestIssuer,
} from '@herald/testing';

/** One `/send` a soak made, and how it was answered. */
export interface SentEvent {
  /** The cipher id the payload carries: what every client and every push shows. */
  id: string;
  userId: string;
  /** `performance.now()` when the request began: no copy of it can exist anywhere before this. */
  startedAt: number;
  endedAt?: number;
  /** HTTP status, or `error` when the request itself failed (connection refused, timeout). */
  status?: number | 'error';
}

/**
 * One SignalR connection of a user's device, as a real Bitwarden client: a device id that survives
 * reconnects, a fresh token each time, and how many times each cipher id arrived.
 */
export class HubDevice {
  readonly id = randomUUID();
  readonly received = new Map<string, number>();
  /** SyncVaults received (a replay that gave up, or a catch-up whose gap had left the stream). */
  syncVaults = 0;
  closes = 0;
  client: HubClient | undefined;
  private closed = false;
  private connecting = false;

  constructor(
    readonly userId: string,
    private readonly issuer: TestIssuer,
  ) {}

  get key(): string {
    return `hub:${this.id}`;
  }

  async connect(gatewayUrl: string): Promise<void> {
    const token = await this.issuer.userToken(this.userId, { device: this.id });
    const client = await HubClient.connect(`${gatewayUrl}/notifications/hub`, { token });
    this.closed = false;
    client.connection.onclose(() => {
      this.closes += 1;
      this.closed = true;
    });
    client.connection.on('ReceiveMessage', (message: { Type: number; Payload: { Id?: unknown } }) => {
      if (message.Type === 5) this.syncVaults += 1;
      if (typeof message.Payload.Id !== 'string') return;
      this.received.set(message.Payload.Id, (this.received.get(message.Payload.Id) ?? 0) + 1);
    });
    this.client = client;
  }

  /** Like a client whose connection dropped: connects again (to `gatewayUrl`) once, in the background. */
  reconnectIfClosed(gatewayUrl: string): void {
    if (!this.closed || this.connecting) return;
    this.client = undefined;
    this.connecting = true;
    // A failed attempt leaves `closed` set, so the next call tries again.
    this.connect(gatewayUrl)
      .catch(() => undefined)
      .finally(() => (this.connecting = false));
  }

  get online(): boolean {
    return this.client !== undefined && !this.closed;
  }

  async stop(): Promise<void> {
    await this.client?.stop().catch(() => undefined);
    this.client = undefined;
  }
}

export type Provider = 'fcm' | 'apns' | 'webpush';

/** A device registered for push with one provider. */
export interface PushDevice {
  userId: string;
  provider: Provider;
  /** The device identifier it registered under. */
  identifier: string;
  /** FCM or APNs token, or the Web Push endpoint's path: how the fakes tell devices apart. */
  address: string;
  /** `performance.now()` once its registration was removed (a provider said it is gone). */
  removedAt?: number;
}

export const pushKey = (device: { provider: Provider; address: string }): string =>
  `${device.provider}:${device.address}`;

interface ApnsAnswer {
  /** 0 with `stall`: never answered. */
  status: number;
  reason?: string;
  retryAfter?: string;
  stall?: boolean;
}

/**
 * What the push fakes received, per device and cipher id: copies the provider accepted, and the
 * answers of every attempt. Read incrementally (each fake's record is append-only). FCM and Web
 * Push record the status they answered; the fake APNs does not, but it consumes its script in the
 * order it records requests, so the answers scripted through `scriptApns` are matched to receipts
 * by position.
 */
export class PushArrivals {
  private readonly acceptedCopies = new Map<string, number>();
  private readonly attempts = new Map<string, number[]>();
  private readonly apnsAnswers = new Map<number, number>();
  private cursor = { fcm: 0, apns: 0, webpush: 0 };

  constructor(
    private readonly fcm: FakeFcm,
    private readonly apns: FakeApns,
    private readonly webpush: FakeWebPushEndpoint,
  ) {}

  /** Queues answers on the fake APNs and remembers which receipts they will go to. */
  scriptApns(answers: ApnsAnswer[]): void {
    this.refresh();
    // Nothing scripted earlier may still be queued, or the positions would be off.
    let next = this.apns.received.length;
    for (const answer of answers) {
      if (answer.stall) this.apns.stallNext();
      else this.apns.respondWith(answer.status, answer.reason, answer.retryAfter);
      this.apnsAnswers.set(next++, answer.stall ? 0 : answer.status);
    }
  }

  /** Copies of `id` that `device`'s provider accepted. */
  accepted(device: PushDevice, id: string): number {
    this.refresh();
    return this.acceptedCopies.get(`${pushKey(device)} ${id}`) ?? 0;
  }

  /** The status of every attempt to push `id` to `device`, in order (0: never answered). */
  answers(device: PushDevice, id: string): number[] {
    this.refresh();
    return this.attempts.get(`${pushKey(device)} ${id}`) ?? [];
  }

  private refresh(): void {
    const fcm = this.fcm.received;
    for (; this.cursor.fcm < fcm.length; this.cursor.fcm += 1) {
      const push = fcm[this.cursor.fcm]!;
      this.record('fcm', push.token, idOf(push.data['payload']), push.answered ?? 0);
    }
    const apns = this.apns.received;
    for (; this.cursor.apns < apns.length; this.cursor.apns += 1) {
      const push = apns[this.cursor.apns]!;
      const body = push.body as { data?: { payload?: unknown } } | null;
      this.record(
        'apns',
        push.deviceToken,
        idOf(body?.data?.payload),
        this.apnsAnswers.get(this.cursor.apns) ?? 200,
      );
    }
    const web = this.webpush.pushes;
    for (; this.cursor.webpush < web.length; this.cursor.webpush += 1) {
      const push = web[this.cursor.webpush]!;
      const body = push.body as { data?: { payload?: unknown } } | null;
      this.record('webpush', push.path, idOf(body?.data?.payload), push.status);
    }
  }

  private record(provider: Provider, address: string, id: string | undefined, status: number): void {
    if (id === undefined) return;
    const key = `${provider}:${address} ${id}`;
    this.attempts.set(key, [...(this.attempts.get(key) ?? []), status]);
    if (status >= 200 && status < 300) this.acceptedCopies.set(key, (this.acceptedCopies.get(key) ?? 0) + 1);
  }
}

/** Pushes carry the payload as a JSON string; its `Id` is the cipher id. */
function idOf(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const id = (JSON.parse(payload) as { Id?: unknown }).Id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Who should receive a user's events. */
export interface Recipients {
  hub: HubDevice[];
  push: PushDevice[];
}

/** One (event, target) pair and how many copies arrived. */
export interface Arrival {
  event: SentEvent;
  target: string;
  userId: string;
  copies: number;
}

export interface Tally {
  accepted: number;
  /** (event, target) pairs that should have arrived. */
  expected: number;
  delivered: number;
  duplicated: number;
  lost: number;
  /** Pairs a provider refused for good, as scripted: pruned (gone) or dead-lettered. */
  excused: number;
  /** Copies beyond the first, per target key. */
  duplicatesByTarget: Map<string, number>;
  /** The first missing pairs, for the failure message. */
  missing: string[];
}

/**
 * The events of one soak case and what became of them. Every accepted event (`/send` answered
 * 200) must reach every hub connection of its user and every push device the user had registered
 * when it was sent, except the pushes a case excuses (a provider told to say the registration is
 * gone, or to refuse until the job is dead-lettered). Copies are counted per target, so one that
 * arrived twice shows.
 */
export class CaseLedger {
  readonly events: SentEvent[] = [];
  /** `${pushKey} ${id}` → why this push is not expected to arrive. */
  readonly excused = new Map<string, 'pruned' | 'dead'>();

  constructor(
    readonly name: string,
    private readonly recipients: (userId: string) => Recipients,
    private readonly arrivals: PushArrivals,
  ) {}

  accepted(): SentEvent[] {
    return this.events.filter((event) => event.status === 200);
  }

  /** Accepted events whose request began at or after `since` (all when omitted). */
  acceptedSince(since = 0): number {
    return this.events.filter((event) => event.status === 200 && event.startedAt >= since).length;
  }

  excuse(device: PushDevice, id: string, why: 'pruned' | 'dead'): void {
    this.excused.set(`${pushKey(device)} ${id}`, why);
  }

  /** Every expected (event, target) pair with the copies that arrived. */
  pairs(): Arrival[] {
    const pairs: Arrival[] = [];
    for (const event of this.accepted()) {
      const { hub, push } = this.recipients(event.userId);
      for (const device of hub) {
        pairs.push({
          event,
          target: device.key,
          userId: event.userId,
          copies: device.received.get(event.id) ?? 0,
        });
      }
      for (const device of push) {
        if (device.removedAt !== undefined && device.removedAt <= event.startedAt) continue;
        if (this.excused.has(`${pushKey(device)} ${event.id}`)) continue;
        pairs.push({
          event,
          target: pushKey(device),
          userId: event.userId,
          copies: this.arrivals.accepted(device, event.id),
        });
      }
    }
    return pairs;
  }

  lost(): number {
    return this.pairs().filter((pair) => pair.copies === 0).length;
  }

  tally(): Tally {
    const pairs = this.pairs();
    const duplicatesByTarget = new Map<string, number>();
    for (const pair of pairs) {
      if (pair.copies > 1)
        duplicatesByTarget.set(pair.target, (duplicatesByTarget.get(pair.target) ?? 0) + pair.copies - 1);
    }
    const missing = pairs.filter((pair) => pair.copies === 0);
    return {
      accepted: this.accepted().length,
      expected: pairs.length,
      delivered: pairs.length - missing.length,
      duplicated: [...duplicatesByTarget.values()].reduce((sum, count) => sum + count, 0),
      lost: missing.length,
      excused: this.excused.size,
      duplicatesByTarget,
      missing: missing.slice(0, 20).map((pair) => `${pair.target} missed ${pair.event.id}`),
    };
  }
}

/** The figures line every case prints: `[soak:faults:<case>] accepted=… delivered=… …`. */
export function figuresLine(
  name: string,
  tally: Tally,
  counts: { retried: number; busy?: number; deadLettered: number; pruned: number },
  extra: Record<string, string | number> = {},
): string {
  const fields = {
    accepted: tally.accepted,
    delivered: tally.delivered,
    duplicated: tally.duplicated,
    lost: tally.lost,
    retried: counts.retried,
    ...(counts.busy ? { busy: counts.busy } : {}),
    'dead-lettered': counts.deadLettered,
    pruned: counts.pruned,
    ...extra,
  };
  return `[soak:faults:${name}] ${Object.entries(fields)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ')}`;
}
