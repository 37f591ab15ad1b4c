import { describe, expect, it } from '@jest/globals';

import { DEFAULT_SIGNALR_OPTIONS } from './hub-definition';

describe('SignalR server defaults', () => {
  it('match what real clients and Bitwarden expect', () => {
    expect(DEFAULT_SIGNALR_OPTIONS).toMatchObject({
      keepAliveIntervalMs: 15_000, // the JS client closes after 30 s without a message
      clientTimeoutMs: 30_000, // the JS client pings every 15 s
      handshakeTimeoutMs: 15_000,
      maxFrameBytes: 4096, // Bitwarden's transport buffer
      maxMessageBytes: 2048, // Bitwarden's application buffer
    });
  });
});
