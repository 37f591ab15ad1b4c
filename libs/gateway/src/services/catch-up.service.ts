import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

import {
  DELIVERY_LOG,
  DELIVERY_SUBSCRIBER,
  type DeliveryLog,
  type DeliverySubscriber,
} from '@herald/messaging';
import { InjectLogger, type Logger } from '@herald/platform';

import { ConnectionRegistry } from './connection-registry.service';
import { FanOutWriter } from './fan-out-writer';
import { type GatewayConnection, isUserConnection } from './gateway-connection';
import { type GroupKey } from './hub-identity';
import { WatermarkService } from './watermark.service';

/** Deliveries read per request batch; a group's gap is read page after page up to the stream's end. */
export const CATCH_UP_PAGE_SIZE = 1000;

/** A failed catch-up is tried again after 1 s, doubling up to this. */
export const CATCH_UP_MAX_RETRY_DELAY_MS = 30_000;

/**
 * Closes the gap a NATS outage leaves in live traffic. The clients stay connected to the gateway
 * while it is cut off from NATS, so nothing would make them replay: once the link is back, every
 * group the gateway holds is read back from the watermark it had before the outage up to the
 * stream's last sequence, and what arrived meanwhile is delivered (the groups drop what they
 * already had). If part of the gap has already left DELIVERIES (an outage longer than the replay
 * window), what is gone cannot be told apart per group: every device connection is sent one
 * SyncVault, and what the stream still holds is delivered as well. A catch-up that fails (the log
 * does not answer) keeps the watermark where it was and is tried again with backoff until it
 * succeeds or the link is lost again, so a failed read never turns into a silent gap.
 */
@Injectable()
export class CatchUpService implements OnApplicationBootstrap, OnModuleDestroy {
  private stopListening: (() => void) | undefined;
  private readonly caughtUp: Counter;
  private readonly syncVaults: Counter;
  /** Counts losses of the link: a catch-up that ends after a newer loss must not resume the watermark. */
  private losses = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 1000;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly writer: FanOutWriter,
    private readonly watermark: WatermarkService,
    @Inject(DELIVERY_LOG) private readonly log: DeliveryLog,
    @Inject(DELIVERY_SUBSCRIBER) private readonly subscriber: DeliverySubscriber,
    @InjectLogger('CatchUpService') private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.caughtUp = new Counter({
      name: 'herald_gateway_caught_up_deliveries_total',
      help: 'Deliveries read back from the log after a NATS outage',
      registers: [metrics],
    });
    this.syncVaults = new Counter({
      name: 'herald_gateway_catch_up_sync_vaults_total',
      help: 'Connections sent a SyncVault after a NATS outage because part of the gap had left the log',
      registers: [metrics],
    });
  }

  onApplicationBootstrap(): void {
    this.stopListening = this.subscriber.onConnectionChange((state) => {
      if (state === 'lost') {
        this.losses += 1;
        this.cancelRetry();
        this.watermark.pause();
      } else {
        void this.catchUp();
      }
    });
  }

  onModuleDestroy(): void {
    this.stopListening?.();
    this.cancelRetry();
  }

  async catchUp(): Promise<void> {
    this.cancelRetry();
    const losses = this.losses;
    const from = this.watermark.current;
    let read = 0;
    let done = false;
    try {
      const { first, last } = await this.log.bounds();
      const keys = this.registry.groupKeys();
      // Sequences from + 1 .. first - 1 are gone: no group can be told what it missed there.
      const agedOut = first > from + 1;
      const synced = agedOut ? this.syncEveryDevice(keys) : 0;
      for (const key of keys) read += await this.readBack(key, from, last);
      this.caughtUp.inc(read);
      if (agedOut) {
        this.syncVaults.inc(synced);
        this.logger.warn(
          { from, firstKept: first, upTo: last, deliveries: read, syncVaults: synced },
          'part of the NATS outage left the delivery log; sent SyncVault',
        );
      }
      this.logger.info({ from, upTo: last, deliveries: read }, 'caught up after the NATS outage');
      done = true;
      this.retryDelayMs = 1000;
    } catch (error) {
      // Deliveries handed over before the failure are dropped by the groups' dedupe on the retry.
      this.logger.error(
        { err: error, from, retryInMs: this.retryDelayMs },
        'catching up after the NATS outage failed; the watermark stays paused until a retry succeeds',
      );
    }
    // A newer loss keeps the watermark paused: its own catch-up resumes it.
    if (this.losses !== losses) return;
    if (done) this.watermark.resume();
    else this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, CATCH_UP_MAX_RETRY_DELAY_MS);
    this.retryTimer = setTimeout(() => void this.catchUp(), delay);
    this.retryTimer.unref();
  }

  private cancelRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Reads a group's deliveries after `from` up to `upTo`, page by page, and delivers them. */
  private async readBack(key: GroupKey, from: number, upTo: number): Promise<number> {
    const subject = this.subscriber.subjectOf(key.kind, key.id);
    if ((await this.log.latestSequence(subject)) <= from) return 0;
    let read = 0;
    let after = from;
    for (;;) {
      const page = await this.log.readAfter(subject, after, upTo, CATCH_UP_PAGE_SIZE);
      for (const stored of page) this.registry.deliverStored(key, stored.data);
      read += page.length;
      const lastRead = page.at(-1);
      if (page.length < CATCH_UP_PAGE_SIZE || lastRead === undefined) return read;
      after = lastRead.sequence;
    }
  }

  /** One SyncVault to every user connection in `keys` (anonymous connections have no vault). */
  private syncEveryDevice(keys: GroupKey[]): number {
    const connections = new Set<GatewayConnection>();
    for (const key of keys)
      for (const connection of this.registry.membersOf(key)) connections.add(connection);
    const now = new Date();
    let synced = 0;
    for (const connection of connections) {
      if (!isUserConnection(connection)) continue;
      this.writer.syncVault(connection, now);
      synced += 1;
    }
    return synced;
  }
}
