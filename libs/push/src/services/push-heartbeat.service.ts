import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';

import { type PushWorkerHeartbeat } from '@herald/contracts';
import { NatsClient } from '@herald/messaging';
import { heraldVersion } from '@herald/platform';

import { PushDeliveryService } from './push-delivery.service';

/** Every 5 s, this worker's push outcomes by provider, for the heartbeat service's dashboard. */
@Injectable()
export class PushHeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private readonly workerId = `${hostname()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 40)}-${process.pid}-${randomBytes(2).toString('hex')}`;
  private readonly startedAt = Date.now();

  constructor(
    private readonly client: NatsClient,
    private readonly delivery: PushDeliveryService,
  ) {}

  onApplicationBootstrap(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), 5000);
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    const beat: PushWorkerHeartbeat = {
      workerId: this.workerId,
      host: hostname(),
      version: heraldVersion(),
      startedAt: this.startedAt,
      at: Date.now(),
      sends: this.delivery.outcomes,
    };
    if (!this.client.connection.isClosed()) {
      this.client.connection.publish(
        this.client.names.subjects.pushHeartbeat(this.workerId),
        JSON.stringify(beat),
      );
    }
  }
}
