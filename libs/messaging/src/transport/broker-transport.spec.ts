import { describe, expect, it } from '@jest/globals';

import { eventually } from '@herald/testing';

import { MemoryBroker } from '../memory/memory-broker';
import { type ConsumerOptions } from '../ports';
import { describeTransportContract, serveScript } from '../testing/transport.contract';
import { BrokerPattern } from './broker-patterns';

describe('BrokerTransport on the memory engine', () => {
  const brokers: MemoryBroker[] = [];

  describeTransportContract('memory', {
    open: () => {
      const broker = new MemoryBroker({ namespace: 'transport' });
      brokers.push(broker);
      return Promise.resolve(broker);
    },
    eventually,
    close: async () => {
      await Promise.all(brokers.map((broker) => broker.close()));
    },
  });

  describe('wiring', () => {
    const options: ConsumerOptions = { maxDeliver: 3, ackWaitMs: 1000, batch: 1 };

    it('refuses to start a handler without consumer settings', async () => {
      const broker = new MemoryBroker({ namespace: 'wiring' });
      await expect(serveScript(broker, {}, { [BrokerPattern.Events]: options })).rejects.toThrow(
        'no consumer settings for "push.device"',
      );
      await broker.close();
    });

    it('refuses consumer settings that no handler serves', async () => {
      const broker = new MemoryBroker({ namespace: 'wiring' });
      const consumers = {
        [BrokerPattern.Events]: options,
        [BrokerPattern.PushDevice]: options,
        [BrokerPattern.PushRelay]: options,
      };
      await expect(serveScript(broker, {}, consumers)).rejects.toThrow(
        'consumer settings for "push.relay" but no handler',
      );
      await broker.close();
    });
  });
});
