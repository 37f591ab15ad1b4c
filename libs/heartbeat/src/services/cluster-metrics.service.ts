import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';

import { type ClusterInfo, ClusterStateService } from './cluster-state.service';

/**
 * Cluster gauges for Prometheus, computed from the heartbeats at each scrape; the gauges of one
 * scrape share one reading of the cluster (the cluster state keeps it for a second).
 */
@Injectable()
export class ClusterMetricsService implements OnModuleInit {
  constructor(
    private readonly cluster: ClusterStateService,
    private readonly registry: Registry,
  ) {}

  onModuleInit(): void {
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (gauge: Gauge<L>, info: ClusterInfo) => void,
    ) => {
      const read = () => this.cluster.info();
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
