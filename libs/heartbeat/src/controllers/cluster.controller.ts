import { Controller, Get, Header, Query } from '@nestjs/common';

import { type ClusterInfo, ClusterStateService, type HistoryPoint } from '../services/cluster-state.service';

/** Cluster-wide answers, the same from every heartbeat replica. */
@Controller()
export class ClusterController {
  constructor(private readonly cluster: ClusterStateService) {}

  @Get('info')
  @Header('Cache-Control', 'no-store')
  info(): Promise<ClusterInfo> {
    return this.cluster.info();
  }

  @Get('history')
  @Header('Cache-Control', 'no-store')
  history(@Query('minutes') minutes?: string): { resolutionSeconds: number; points: HistoryPoint[] } {
    const parsed = Number(minutes ?? '60');
    return this.cluster.history(Number.isFinite(parsed) ? parsed : 60);
  }
}
