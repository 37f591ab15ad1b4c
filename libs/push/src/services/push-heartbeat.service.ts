import { hostname } from 'node:os';

import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';

import { type PushWorkerHeartbeat } from '@herald/contracts';
import { HEARTBEAT_PUBLISHER, type HeartbeatPublisher } from '@herald/messaging';
import { heraldVersion, InjectLogger, type Logger, processInstanceId } from '@herald/platform';

import { PushDeliveryService } from './push-delivery.service';

/** Every 5 s, this worker's push outcomes by provider, for the heartbeat service's dashboard. */
@Injectable()
export class PushHeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private readonly workerId = processInstanceId();
  private readonly startedAt = Date.now();

  constructor(
    @Inject(HEARTBEAT_PUBLISHER) private readonly heartbeats: HeartbeatPublisher,
    private readonly delivery: PushDeliveryService,
    @InjectLogger('PushHeartbeatService') private readonly logger: Logger,
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
    // At most once: a beat the broker cannot take is dropped; the next one replaces it.
    this.heartbeats.publish({ kind: 'push-worker', beat }).catch((error: unknown) => {
      this.logger.debug({ err: error, workerId: this.workerId }, 'heartbeat not published');
    });
  }
}
