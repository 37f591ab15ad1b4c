import { describe } from '@jest/globals';

import { eventually } from '@herald/testing';

import { type BrokerLimits } from '../ports';
import { describeBrokerContract } from '../testing/broker.contract';
import { ManualClock } from './clock';
import { MemoryBroker } from './memory-broker';

describe('MemoryBroker', () => {
  const clock = new ManualClock();
  const brokers: MemoryBroker[] = [];

  describeBrokerContract('memory', {
    open: (limits?: Partial<BrokerLimits>) => {
      const broker = new MemoryBroker({ namespace: 'contract', limits, clock });
      brokers.push(broker);
      return Promise.resolve(broker);
    },
    elapse: (ms) => {
      clock.advance(ms);
      return Promise.resolve();
    },
    otherProcess: (broker) => Promise.resolve({ broker, kill: () => Promise.resolve() }),
    controlsTime: true,
    eventually,
    close: async () => {
      await Promise.all(brokers.map((broker) => broker.close()));
    },
  });
});
