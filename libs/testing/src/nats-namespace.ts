import { randomBytes } from 'node:crypto';

import { connect } from 'nats';

export const TEST_NATS_URL = process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A namespace of its own for one test file, so parallel runs never see each other's traffic. */
export function testNamespace(prefix = 't'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Deletes every stream of a test namespace. */
export async function deleteNamespace(namespace: string, servers = TEST_NATS_URL): Promise<void> {
  const connection = await connect({ servers });
  try {
    const manager = await connection.jetstreamManager();
    for await (const stream of manager.streams.list()) {
      if (stream.config.name.startsWith(`${namespace}_`)) {
        await manager.streams.delete(stream.config.name);
      }
    }
  } finally {
    await connection.close();
  }
}
