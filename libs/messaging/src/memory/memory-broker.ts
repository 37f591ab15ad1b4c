import { type Broker } from '../ports';
import { MemoryClusterSource, MemoryDeadLetterLog, MemoryHeartbeatPublisher } from './memory-cluster';
import { MemoryControlBus } from './memory-control';
import { MemoryCore, type MemoryBrokerOptions } from './memory-core';
import { MemoryDeliveries, MemoryDeliveryLog } from './memory-deliveries';
import { MemoryEventConsumer, MemoryEventLog, MemoryPushConsumer, MemoryPushQueue } from './memory-events';
import { MemoryGatewayDirectory, MemoryPresenceStore } from './memory-presence';

/**
 * The in-memory engine: every port with the NATS engine's semantics, for one process (the
 * embedded single-process mode, and fast tests). Memory is bounded: streams keep at most
 * `maxMessagesPerStream` messages and nothing older than their max age; buckets hold only live
 * entries. Its timers never keep the process alive. Nothing survives the process.
 */
export class MemoryBroker implements Broker {
  readonly engine = 'memory' as const;
  readonly eventLog: MemoryEventLog;
  readonly eventConsumer: MemoryEventConsumer;
  readonly deliveryPublisher: MemoryDeliveries;
  readonly deliverySubscriber: MemoryDeliveries;
  readonly deliveryLog: MemoryDeliveryLog;
  readonly presence: MemoryPresenceStore;
  readonly gateways: MemoryGatewayDirectory;
  readonly control: MemoryControlBus;
  readonly pushQueue: MemoryPushQueue;
  readonly pushConsumer: MemoryPushConsumer;
  readonly heartbeats: MemoryHeartbeatPublisher;
  readonly cluster: MemoryClusterSource;
  readonly deadLetters: MemoryDeadLetterLog;
  private readonly core: MemoryCore;

  constructor(options: MemoryBrokerOptions = {}) {
    const core = new MemoryCore(options);
    this.core = core;
    this.eventLog = new MemoryEventLog(core);
    this.eventConsumer = new MemoryEventConsumer(core);
    this.deliveryPublisher = this.deliverySubscriber = new MemoryDeliveries(core);
    this.deliveryLog = new MemoryDeliveryLog(core);
    this.presence = new MemoryPresenceStore(core);
    this.gateways = new MemoryGatewayDirectory(core);
    this.control = new MemoryControlBus(core);
    this.pushQueue = new MemoryPushQueue(core);
    this.pushConsumer = new MemoryPushConsumer(core);
    this.heartbeats = new MemoryHeartbeatPublisher(core);
    this.cluster = new MemoryClusterSource(core);
    this.deadLetters = new MemoryDeadLetterLog(core);
  }

  /** The subject names in use (the same as the NATS engine's for the namespace). */
  get names(): MemoryCore['names'] {
    return this.core.names;
  }

  isConnected(): boolean {
    return this.core.connected;
  }

  /**
   * Simulates an outage of the broker link as the gateway sees it (for tests of catch-up): live
   * deliveries published while it is down never arrive; stored ones stay readable.
   */
  simulateOutage(down: boolean): void {
    this.core.setLink(!down);
  }

  close(): Promise<void> {
    this.core.close();
    return Promise.resolve();
  }
}

export { type MemoryBrokerOptions };
