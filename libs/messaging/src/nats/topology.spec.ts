import { describe, expect, it } from '@jest/globals';
import { type JetStreamManager, type StreamConfig } from 'nats';

import { ensureBucketReplicas, ensureStreams } from './topology';

/**
 * A stream manager whose updates are made but not answered the first time (the request times out
 * after the cluster applied it), as happens when a busy JetStream cluster scales a stream.
 */
function managerLosingTheFirstAnswer(streams: Record<string, Partial<StreamConfig>>) {
  let unanswered = 1;
  const manager = {
    streams: {
      info: (name: string) => {
        const config = streams[name];
        return config ? Promise.resolve({ config }) : Promise.reject(new Error(`stream not found: ${name}`));
      },
      update: (name: string, config: Partial<StreamConfig>) => {
        streams[name] = { ...streams[name], ...config };
        if (unanswered > 0) {
          unanswered -= 1;
          return Promise.reject(Object.assign(new Error('TIMEOUT'), { code: 'TIMEOUT' }));
        }
        return Promise.resolve({ config: streams[name] });
      },
    },
  };
  return manager as unknown as JetStreamManager;
}

describe('replica changes whose answer was lost', () => {
  it('reports a stream scaled by a request that timed out but was applied', async () => {
    const manager = managerLosingTheFirstAnswer({ EVENTS: { name: 'EVENTS', num_replicas: 3 } });
    await expect(ensureStreams(manager, [{ name: 'EVENTS', num_replicas: 1 }])).resolves.toEqual([
      { stream: 'EVENTS', from: 3, to: 1 },
    ]);
  });

  it('reports a bucket scaled the same way', async () => {
    const manager = managerLosingTheFirstAnswer({ KV_presence: { name: 'KV_presence', num_replicas: 1 } });
    await expect(ensureBucketReplicas(manager, 'KV_presence', 3)).resolves.toEqual({
      stream: 'KV_presence',
      from: 1,
      to: 3,
    });
  });
});
