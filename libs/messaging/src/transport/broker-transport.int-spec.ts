import { describe } from '@jest/globals';

import { deleteNamespace, eventually, TEST_NATS_URL, testNamespace } from '@herald/testing';

import { createNatsBroker } from '../nats/nats-broker';
import { NatsTestBed, silentLogger } from '../testing/nats.fixture';
import { describeTransportContract } from '../testing/transport.contract';

describe('BrokerTransport on NATS JetStream', () => {
  // Each broker its own namespace: fresh streams and durable consumers.
  const bed = new NatsTestBed({ servers: TEST_NATS_URL, testNamespace, deleteNamespace });

  describeTransportContract('nats', {
    open: async () => createNatsBroker(await bed.connect(testNamespace()), silentLogger),
    eventually,
    close: () => bed.close(),
  });
});
