import { describe } from '@jest/globals';

import { deleteNamespace, eventually, TEST_NATS_URL, testNamespace } from '@herald/testing';

import { type Broker, type BrokerLimits } from '../ports';
import { describeBrokerContract } from '../testing/broker.contract';
import { NatsTestBed, silentLogger } from '../testing/nats.fixture';
import { createNatsBroker } from './nats-broker';

describe('NATS JetStream broker', () => {
  const bed = new NatsTestBed({ servers: TEST_NATS_URL, testNamespace, deleteNamespace });
  const namespaces = new Map<Broker, string>();

  describeBrokerContract('nats', {
    // Each broker its own namespace: fresh streams, buckets and durable consumers.
    open: async (limits?: Partial<BrokerLimits>): Promise<Broker> => {
      const namespace = testNamespace();
      const broker = await createNatsBroker(await bed.connect(namespace), silentLogger, { limits });
      namespaces.set(broker, namespace);
      return broker;
    },
    otherProcess: async (broker) => {
      const client = await bed.connect(namespaces.get(broker)!);
      // Dies without a word: closed, not drained, so its pending pulls and unacked messages stay behind.
      return { broker: await createNatsBroker(client, silentLogger), kill: () => client.connection.close() };
    },
    // The server keeps its own time: nothing to move, callers poll until it has passed.
    elapse: () => Promise.resolve(),
    controlsTime: false,
    eventually,
    close: () => bed.close(),
  });
});
