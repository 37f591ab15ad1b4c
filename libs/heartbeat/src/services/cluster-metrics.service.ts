import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';

import { type ClusterInfo, ClusterStateService } from './cluster-state.service';

/** Cluster gauges for Prometheus, computed from the heartbeats at each scrape. */
@Injectable()
export class ClusterMetricsService implements OnModuleInit {
  private snapshot: { at: number; info: Promise<ClusterInfo> } | undefined;

  constructor(
    private readonly cluster: ClusterStateService,
    private readonly registry: Registry,
  ) {}

  /** The gauges of one scrape share one reading of the cluster (kept for a second). */
  private info(): Promise<ClusterInfo> {
    const now = Date.now();
    if (!this.snapshot || now - this.snapshot.at > 1000)
      this.snapshot = { at: now, info: this.cluster.info(now) };
    return this.snapshot.info;
  }

  onModuleInit(): void {
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (gauge: Gauge<L>, info: ClusterInfo) => void,
    ) => {
      const read = () => this.info();
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [this.registry],
        async collect() {
          const info = await read();
          this.reset();
          fill(this, info);
        },
      });
    };
    gauge('herald_cluster_gateways', 'Live gateways (a beat within 15 s)', [], (g, info) =>
      g.set(info.totals.gateways),
    );
    gauge(
      'herald_cluster_connections',
      'Open connections, by gateway and hub',
      ['gateway', 'hub'],
      (g, info) => {
        for (const gateway of info.gateways) {
          g.set({ gateway: gateway.id, hub: 'hub' }, gateway.connections.hub);
          g.set({ gateway: gateway.id, hub: 'anonymous-hub' }, gateway.connections['anonymous-hub']);
        }
      },
    );
    gauge('herald_cluster_users', 'Distinct users connected, by gateway', ['gateway'], (g, info) => {
      for (const gateway of info.gateways) g.set({ gateway: gateway.id }, gateway.users);
    });
    gauge(
      'herald_cluster_deliveries_per_second',
      'Deliveries per second received, by gateway',
      ['gateway'],
      (g, info) => {
        for (const gateway of info.gateways) g.set({ gateway: gateway.id }, gateway.deliveriesPerSecond);
      },
    );
    gauge(
      'herald_cluster_dead_letters',
      'Messages in the dead-letter stream, by source',
      ['source'],
      (g, info) => {
        for (const [source, count] of Object.entries(info.deadLetters)) g.set({ source }, count);
      },
    );
    gauge(
      'herald_cluster_push_sends',
      'Push outcomes of the live push workers since their start, by provider and outcome',
      ['provider', 'outcome'],
      (g, info) => {
        for (const [provider, outcomes] of Object.entries(info.push)) {
          for (const [outcome, count] of Object.entries(outcomes)) g.set({ provider, outcome }, count);
        }
      },
    );
  }
}
