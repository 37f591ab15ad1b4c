import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PushType } from '@herald/contracts';
import { NatsServerProcess } from '@herald/testing';

import { HeraldPublisher } from './herald-publisher';

/** A NATS that demands a password, as the production compose file runs it. */
describe('HeraldPublisher against a NATS with a password', () => {
  let server: NatsServerProcess;

  beforeAll(async () => {
    server = await NatsServerProcess.launch(10_000, ['--user', 'herald', '--pass', 's3cret/+word']);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('connects with the credentials given in the URL, and is refused without them', async () => {
    const address = server.url.replace('nats://', '');
    await expect(HeraldPublisher.connect({ servers: `nats://${address}`, timeoutMs: 2000 })).rejects.toThrow(
      /Authorization/i,
    );
    const publisher = await HeraldPublisher.connect({
      servers: `nats://herald:${encodeURIComponent('s3cret/+word')}@${address}`,
      namespace: 'pubcreds',
    });
    try {
      // No stream exists on this server: the publish reaches it and is refused by JetStream, not by auth.
      await expect(
        publisher.publish(PushType.SyncVault, {
          UserId: '6f4ff0a4-5f5f-4c4b-9a55-2f1d3c0e8b11',
          Date: new Date(),
        }),
      ).rejects.toThrow(/stream|no responders|503/i);
    } finally {
      await publisher.close();
    }
  });
});
