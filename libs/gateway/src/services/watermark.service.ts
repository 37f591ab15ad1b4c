import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';

import {
  DELIVERY_LOG,
  DELIVERY_SUBSCRIBER,
  type DeliveryLog,
  type DeliverySubscriber,
} from '@herald/messaging';

interface Sample {
  /** Monotonic milliseconds when the sample was taken. */
  at: number;
  sequence: number;
}

const SAMPLE_INTERVAL_MS = 1000;
const SAMPLES_KEPT = 120;

/**
 * The gateway's watermark: a DELIVERIES sequence such that every delivery up to it has been handed
 * to this gateway's sockets. Sampled every second as "the stream's last sequence, then a flush":
 * the flush returns only after every message the broker routed to this gateway before it was
 * handled. Recent samples are kept, so a connection that went silent resumes from the watermark
 * it had when the client was last heard from. The heartbeat carries the current value, so devices
 * of a gateway that dies without a word resume from its last beat.
 */
@Injectable()
export class WatermarkService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly samples: Sample[] = [];
  private sampler: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private paused = false;
  private readonly now = () => performance.now();

  constructor(
    @Inject(DELIVERY_LOG) private readonly log: DeliveryLog,
    @Inject(DELIVERY_SUBSCRIBER) private readonly subscriber: DeliverySubscriber,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh();
    this.sampler = setInterval(() => void this.refresh().catch(() => undefined), SAMPLE_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    clearInterval(this.sampler);
  }

  /** The newest watermark. */
  get current(): number {
    return this.samples.at(-1)?.sequence ?? 0;
  }

  /** The newest watermark sampled at or before `monotonicTime`, or the oldest kept. */
  asOf(monotonicTime: number): number {
    for (let index = this.samples.length - 1; index >= 0; index -= 1) {
      const sample = this.samples[index];
      if (sample !== undefined && sample.at <= monotonicTime) return sample.sequence;
    }
    return this.samples[0]?.sequence ?? 0;
  }

  /** Takes a sample now (one at a time; concurrent callers share it). */
  refresh(): Promise<void> {
    this.sampling ??= this.sample().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  /**
   * While the link to the broker is down, and until what was published meanwhile has been read
   * back, the watermark must not move: a sample would count deliveries this gateway never got.
   */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  private async sample(): Promise<void> {
    if (this.paused) return;
    const { last } = await this.log.bounds();
    await this.subscriber.flush();
    if (this.paused) return;
    // Stamped when the flush returned: only then is everything up to `last` on the sockets.
    this.samples.push({ at: this.now(), sequence: last });
    if (this.samples.length > SAMPLES_KEPT) this.samples.shift();
  }
}
