import { randomBytes } from 'node:crypto';

import { connect } from 'nats';

export const TEST_NATS_URL = process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A namespace of its own for one test file, so parallel runs never see each other's traffic. */
export function testNamespace(prefix = 't'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/**
 * Deletes every stream of a test namespace: its own (`<ns>_*`) and the ones behind its KV buckets
 * (`KV_<ns>_*`), so a persistent NATS store does not grow with every run.
 */
export async function deleteNamespace(namespace: string, servers = TEST_NATS_URL): Promise<void> {
  const connection = await connect({ servers });
  try {
    const manager = await connection.jetstreamManager();
    for await (const stream of manager.streams.list()) {
      const name = stream.config.name;
      if (name.startsWith(`${namespace}_`) || name.startsWith(`KV_${namespace}_`)) {
        await manager.streams.delete(name);
      }
    }
  } finally {
    await connection.close();
  }
}
