import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';

import { EVENT_LOG, type EventLog } from '@herald/messaging';
import { HealthService, InjectLogger, type Logger } from '@herald/platform';

import { type BridgeTimings } from '../config/vaultwarden-bridge.config';
import {
  InstallRefusedError,
  type LeaderSession,
  type VaultwardenDatabase,
} from '../repositories/vaultwarden-database.repository';
import { BridgeMetricsService } from '../services/bridge-metrics.service';
import { type CapturedChange, eventsForBatch } from '../services/change-events';
import { BRIDGE_TIMINGS, VAULTWARDEN_DATABASE } from '../vaultwarden.tokens';

/** What the bridge last saw, for its heartbeat. */
export interface BridgeState {
  leader: boolean;
  pending: number;
  lagSeconds: number;
  published: number;
}

/**
 * The edge of the bridge: drains Vaultwarden's change queue into the event log.
 *
 * One bridge works at a time: the one holding the session advisory lock (the others try again
 * every few seconds; the lock dies with its connection). The worker takes a batch in queue order
 * (`FOR UPDATE SKIP LOCKED`, a safety net should two ever work), appends its events and waits for
 * every acknowledgement, and only then deletes the changes and commits: a crash, a broken database
 * connection or an unreachable broker rolls back and the changes are published later (at least
 * once; event ids `vw-<installation>-<change id>` make a retry within JetStream's duplicate window
 * a duplicate that is stored once). It wakes on the triggers' NOTIFY and polls as well.
 */
@Injectable()
export class ChangeQueueConsumer implements OnApplicationBootstrap, OnModuleDestroy {
  private stopping = false;
  private session: LeaderSession | undefined;
  private running: Promise<void> | undefined;
  private installationId: string | undefined;
  private woken = false;
  private wake: (() => void) | undefined;
  private lastTriggerCheck = 0;
  private failures = 0;
  readonly state: BridgeState = { leader: false, pending: 0, lagSeconds: 0, published: 0 };

  constructor(
    @Inject(VAULTWARDEN_DATABASE) private readonly database: VaultwardenDatabase,
    @Inject(EVENT_LOG) private readonly events: EventLog,
    @Inject(BRIDGE_TIMINGS) private readonly timings: BridgeTimings,
    private readonly metrics: BridgeMetricsService,
    private readonly health: HealthService,
    @InjectLogger('ChangeQueueConsumer') private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.health.register('vaultwarden-database', () => this.database.reachable);
    try {
      await this.prepare();
    } catch (error) {
      // A role that may not install, on a database where nobody did: the operator must act. The
      // boot fails, and no shutdown hook will run to close the connections.
      if (error instanceof InstallRefusedError) {
        await this.database.close();
        throw error;
      }
      this.logger.warn({ err: error }, 'Vaultwarden database not ready; trying again');
    }
    this.running = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.signal();
    // The batch in hand finishes (published and deleted, or rolled back) before the broker drains.
    await this.running;
    await this.session?.release();
    this.session = undefined;
    this.metrics.leader.set(0);
    await this.database.close();
  }

  /** Installs (or finds installed) the queue and triggers, and reads the installation id. */
  private async prepare(): Promise<void> {
    try {
      await this.database.install();
    } catch (error) {
      if (!(error instanceof InstallRefusedError) || !(await this.database.installed())) throw error;
      this.logger.warn(
        { reason: error.message },
        'cannot check the installed triggers with this role; using what an operator installed',
      );
    }
    this.installationId = await this.database.installationId();
    this.logger.info({ installationId: this.installationId }, 'capturing Vaultwarden changes');
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (!this.installationId) await this.prepare();
        if (!this.session && !(await this.becomeLeader())) {
          await this.pause(this.timings.leaderRetryMs);
          continue;
        }
        if (Date.now() - this.lastTriggerCheck >= this.timings.triggerCheckMs) await this.checkTriggers();
        const taken = await this.database.takeBatch(this.timings.batchSize, (changes) =>
          this.publish(changes),
        );
        this.failures = 0;
        if (taken === this.timings.batchSize) continue;
        await this.observe();
        await this.pause(this.timings.pollMs);
      } catch (error) {
        this.failures += 1;
        this.metrics.batchErrors.inc();
        const delayMs = Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7));
        this.logger.warn({ err: error, delayMs, failures: this.failures }, 'batch not published; retrying');
        await this.pause(delayMs);
      }
    }
  }

  private async becomeLeader(): Promise<boolean> {
    const session = await this.database.lead(
      () => this.signal(),
      (error) => {
        this.session = undefined;
        this.setLeader(false);
        this.logger.warn({ err: error }, 'lost the leader connection; another bridge may take over');
        this.signal();
      },
    );
    if (!session) {
      this.setLeader(false);
      return false;
    }
    this.session = session;
    this.lastTriggerCheck = 0;
    this.setLeader(true);
    this.logger.info('this bridge holds the leader lock and publishes the changes');
    return true;
  }

  private setLeader(leader: boolean): void {
    this.state.leader = leader;
    this.metrics.leader.set(leader ? 1 : 0);
  }

  /** A Vaultwarden migration that recreates a table drops its trigger: put it back. */
  private async checkTriggers(): Promise<void> {
    this.lastTriggerCheck = Date.now();
    const missing = await this.database.missingTriggers();
    const absentTables = missing.filter((entry) => !entry.exists).map((entry) => entry.table);
    const unguarded = missing.filter((entry) => entry.exists).map((entry) => entry.table);
    if (absentTables.length > 0) {
      this.logger.debug({ tables: absentTables }, 'Vaultwarden tables not present; not captured');
    }
    if (unguarded.length === 0) return;
    this.metrics.triggerRepairs.inc();
    this.logger.warn(
      { tables: unguarded },
      'capture triggers missing (a Vaultwarden migration?); reinstalling',
    );
    try {
      await this.database.install();
    } catch (error) {
      this.logger.error(
        { err: error, tables: unguarded },
        'could not reinstall the capture triggers: changes to these tables are not captured',
      );
    }
  }

  private async publish(changes: CapturedChange[]): Promise<void> {
    const { events, skipped } = eventsForBatch(changes, {
      installationId: this.installationId!,
      now: new Date(),
      bulkThreshold: this.timings.bulkThreshold,
    });
    // Appended in queue order on one connection; every acknowledgement is awaited before the
    // changes are deleted.
    await Promise.all(events.map((event) => this.events.append(event)));
    for (const change of changes) this.metrics.changes.inc({ table: change.table, op: change.op });
    for (const event of events) this.metrics.published.inc({ type: String(event.type) });
    this.metrics.skipped.inc(skipped.length);
    this.state.published += events.length;
    if (skipped.length > 0) this.logger.debug({ skipped }, 'changes without an event');
    this.logger.debug(
      { changes: changes.length, events: events.length, first: changes[0]?.id },
      'published a batch of Vaultwarden changes',
    );
  }

  private async observe(): Promise<void> {
    const pending = await this.database.pending();
    const lagSeconds = pending.oldest ? Math.max(0, (Date.now() - pending.oldest.getTime()) / 1000) : 0;
    this.state.pending = pending.count;
    this.state.lagSeconds = lagSeconds;
    this.metrics.pending.set(pending.count);
    this.metrics.lagSeconds.set(lagSeconds);
  }

  private signal(): void {
    this.woken = true;
    this.wake?.();
  }

  /** Waits `ms`, or less when a change is notified or the bridge stops. */
  private async pause(ms: number): Promise<void> {
    if (this.woken || this.stopping) {
      this.woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
    this.woken = false;
  }
}
