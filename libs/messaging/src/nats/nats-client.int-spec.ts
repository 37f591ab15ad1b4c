import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { NatsServerProcess } from '@herald/testing';

import { silentLogger } from '../testing/nats.fixture';
import { NatsClient } from './nats-client';

describe('NatsClient against a server that requires a password', () => {
  let server: NatsServerProcess;

  beforeAll(async () => {
    server = await NatsServerProcess.launch(10_000, ['--user', 'herald', '--pass', 'p@ss:word']);
  });

  afterAll(async () => {
    await server?.cleanup();
  });

  it('connects with the credentials HERALD_NATS_URL carries, as the deployment guide writes them', async () => {
    const client = await NatsClient.connect({
      servers: `nats://herald:p%40ss%3Aword@127.0.0.1:${server.port}`,
      namespace: 'auth',
      name: 'auth-test',
      logger: silentLogger,
    });
    try {
      expect(client.connected).toBe(true);
      expect((await client.manager.getAccountInfo()).streams).toBe(0);
    } finally {
      await client.close();
    }
  });
});
