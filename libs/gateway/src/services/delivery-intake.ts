import { Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry } from 'prom-client';

import { type Delivery, deliveryCodec, traceIdOf } from '@herald/contracts';
import { InjectLogger, type Logger } from '@herald/platform';

import { FanOutWriter } from './fan-out-writer';
import { type GatewayConnection } from './gateway-connection';
import { type RecentEvents } from './recent-events';

/** What the intake needs of a group: its name (for logs), its members, and what it was handed. */
export interface DeliveryTarget {
  readonly name: string;
  readonly members: ReadonlySet<GatewayConnection>;
  readonly recent: RecentEvents;
}

/**
 * Where a group's deliveries enter the gateway, live or read back after an outage: decoded once
 * (an undecodable one is dropped and counted), dropped if the group already had the event, then
 * handed to the fan-out writer.
 */
@Injectable()
export class DeliveryIntake {
  private readonly deliveries: Counter<'hub'>;
  private readonly invalid: Counter;
  private readonly duplicates: Counter;
  private readonly latency: Histogram;
  private count = 0;

  constructor(
    private readonly writer: FanOutWriter,
    @InjectLogger('DeliveryIntake') private readonly logger: Logger,
    registry: Registry,
  ) {
    this.deliveries = new Counter({
      name: 'herald_gateway_deliveries_received_total',
      help: 'Deliveries received from NATS for groups this gateway holds',
      labelNames: ['hub'],
      registers: [registry],
    });
    this.invalid = new Counter({
      name: 'herald_gateway_deliveries_invalid_total',
      help: 'Deliveries that could not be decoded and were dropped',
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'herald_gateway_delivery_latency_seconds',
      help: 'From the event being accepted (/send or publisher) to its fan-out on this gateway (the socket writes follow when the broker read it came in is done)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.duplicates = new Counter({
      name: 'herald_gateway_deliveries_duplicate_total',
      help: 'Deliveries dropped because their group had already received the same event',
      registers: [registry],
    });
  }

  /** Deliveries received for held groups since start. */
  get received(): number {
    return this.count;
  }

  receive(group: DeliveryTarget, data: Uint8Array, traceparent?: string): void {
    let delivery: Delivery;
    try {
      delivery = deliveryCodec.decode(data);
    } catch (error) {
      this.invalid.inc();
      this.logger.error({ err: error, group: group.name }, 'dropped an undecodable delivery');
      return;
    }
    this.deliveries.inc({ hub: delivery.hub });
    this.count += 1;
    if (!group.recent.firstTime(delivery.eventId)) {
      this.duplicates.inc();
      return;
    }
    // From the event's acceptance to its socket writes, once per delivery.
    this.latency.observe(Math.max(0, Date.now() - delivery.acceptedAt) / 1000);
    this.writer.fanOut(group.members, delivery);
    if (traceparent && this.logger.isLevelEnabled('debug')) {
      this.logger.debug(
        {
          traceId: traceIdOf(traceparent),
          eventId: delivery.eventId,
          group: group.name,
          members: group.members.size,
        },
        'delivery written to sockets',
      );
    }
  }
}
