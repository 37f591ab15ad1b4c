import { afterAll, describe, expect, it } from '@jest/globals';

import { deleteNamespace, eventually, TEST_NATS_URL, testNamespace } from '@herald/testing';

import { MessagingModule } from './messaging.module';
import { NatsTestBed } from './testing/nats.fixture';
import { checkMessagingModule } from './testing/messaging-module.check';

describe('MessagingModule.forRoot({ engine: "nats" })', () => {
  const bed = new NatsTestBed({ servers: TEST_NATS_URL, testNamespace, deleteNamespace });

  afterAll(async () => {
    await bed.close();
  });

  it('connects, creates the streams and provides every port token; drains at close', async () => {
    const namespace = testNamespace();
    // Registered with the bed only so that its namespace is deleted afterwards.
    const probe = await bed.connect(namespace);
    await checkMessagingModule(
      { engine: 'nats', connection: { servers: TEST_NATS_URL, namespace, name: 'module-test' } },
      eventually,
    );
    const streams = await probe.manager.streams.names().next();
    expect(streams).toEqual(expect.arrayContaining([`${namespace}_EVENTS`, `${namespace}_DELIVERIES`]));
  });

  it('keeps the legacy forRoot(client) working (NatsClient only)', async () => {
    const client = await bed.connect(testNamespace());
    const module = MessagingModule.forRoot(client);
    expect(module.exports).toHaveLength(1);
  });
});
