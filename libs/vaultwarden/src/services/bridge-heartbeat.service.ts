import { hostname } from 'node:os';

import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';

import { type BridgeHeartbeat } from '@herald/contracts';
import { HEARTBEAT_PUBLISHER, type HeartbeatPublisher } from '@herald/messaging';
import { heraldVersion, InjectLogger, type Logger, processInstanceId } from '@herald/platform';

import { ChangeQueueConsumer } from '../consumers/change-queue.consumer';

/** Every 5 s, this bridge's state, for the heartbeat service's dashboard. */
@Injectable()
export class BridgeHeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private readonly bridgeId = processInstanceId();
  private readonly startedAt = Date.now();

  constructor(
    @Inject(HEARTBEAT_PUBLISHER) private readonly heartbeats: HeartbeatPublisher,
    private readonly queue: ChangeQueueConsumer,
    @InjectLogger('BridgeHeartbeatService') private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.beat();
    // Unref'd: a boot that fails after this started (the bridge may not install) must still exit.
    this.timer = setInterval(() => this.beat(), 5000).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    const beat: BridgeHeartbeat = {
      bridgeId: this.bridgeId,
      source: 'vaultwarden',
      host: hostname(),
      version: heraldVersion(),
      startedAt: this.startedAt,
      at: Date.now(),
      ...this.queue.state,
    };
    // At most once: a beat the broker cannot take is dropped; the next one replaces it.
    this.heartbeats.publish({ kind: 'bridge', beat }).catch((error: unknown) => {
      this.logger.debug({ err: error, bridgeId: this.bridgeId }, 'heartbeat not published');
    });
  }
}
