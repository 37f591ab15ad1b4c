import { type AddressInfo, connect, createServer } from 'node:net';

/**
 * A loopback TCP port that nothing listened on a moment ago. Only a guess: another process may
 * bind it before the caller does, so a caller that binds it must go through `onFreePort`, and a
 * caller that needs a refused connection should use `refusedPort`.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** True when `error` (or its message) says that the port was taken. */
export function isPortClash(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'EADDRINUSE' || (typeof message === 'string' && /address already in use/i.test(message));
}

/**
 * Starts something on a free port, and on a fresh port again when the one picked was taken in the
 * meantime (EADDRINUSE). For servers that cannot be given port 0 and report what they bound.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start(await freePort());
    } catch (error) {
      if (attempt >= attempts || !isPortClash(error)) throw error;
    }
  }
}

/** A loopback port that refused a connection just now: for tests of an unreachable peer. */
export async function refusedPort(attempts = 5): Promise<number> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused || attempt >= attempts) return port;
  }
}
