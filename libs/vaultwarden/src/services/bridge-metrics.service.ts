import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';

/** The bridge's Prometheus series (docs/vaultwarden.md lists them). */
@Injectable()
export class BridgeMetricsService {
  readonly changes: Counter<'table' | 'op'>;
  readonly published: Counter<'type'>;
  readonly skipped: Counter;
  readonly batchErrors: Counter;
  readonly triggerRepairs: Counter;
  readonly pending: Gauge;
  readonly lagSeconds: Gauge;
  readonly leader: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.changes = new Counter({
      name: 'herald_vaultwarden_changes_total',
      help: 'Captured Vaultwarden changes taken from the queue and published, by table and operation',
      labelNames: ['table', 'op'],
      registers,
    });
    this.published = new Counter({
      name: 'herald_vaultwarden_events_published_total',
      help: 'Events appended to the event log, by push type',
      labelNames: ['type'],
      registers,
    });
    this.skipped = new Counter({
      name: 'herald_vaultwarden_changes_skipped_total',
      help: 'Captured changes that gave no event (an organization item nobody may see, a folded bulk change)',
      registers,
    });
    this.batchErrors = new Counter({
      name: 'herald_vaultwarden_batch_errors_total',
      help: 'Batches rolled back (database or broker unavailable); their changes are published later',
      registers,
    });
    this.triggerRepairs = new Counter({
      name: 'herald_vaultwarden_trigger_repairs_total',
      help: 'Times the bridge found its triggers missing (a Vaultwarden migration) and reinstalled them',
      registers,
    });
    this.pending = new Gauge({
      name: 'herald_vaultwarden_pending_changes',
      help: 'Captured changes waiting in herald_bridge.changes (as of the last look)',
      registers,
    });
    this.lagSeconds = new Gauge({
      name: 'herald_vaultwarden_lag_seconds',
      help: 'Age of the oldest change waiting to be published (0 when none waits)',
      registers,
    });
    this.leader = new Gauge({
      name: 'herald_vaultwarden_leader',
      help: '1 while this bridge is the one working (holds the leader lock), 0 on standby',
      registers,
    });
  }
}
