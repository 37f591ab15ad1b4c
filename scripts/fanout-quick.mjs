// A quick measure of org-wide fan-out (the benchmark harness is a later issue): starts the BUILT
// gateway and dispatcher on loopback against NATS (127.0.0.1:4222, a fresh namespace deleted
// afterwards), opens N raw MessagePack SignalR connections of N users in one organization, posts
// org-wide events to /send as fast as they are accepted for a few seconds, and prints how many
// deliveries per second the clients received.
//   node scripts/fanout-quick.mjs [--dist DIR] [--connections 2000] [--seconds 15] [--inflight 16]
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { connect } from 'nats';
import { WebSocket } from 'ws';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .map((value, index, all) => (value.startsWith('--') ? [value.slice(2), all[index + 1]] : undefined))
    .filter(Boolean),
);
const dist = resolve(args.dist ?? 'dist');
const CONNECTIONS = Math.min(Number(args.connections ?? 2000), 5000);
const SECONDS = Math.min(Number(args.seconds ?? 15), 60);
const INFLIGHT = Math.min(Number(args.inflight ?? 16), 32);
const NATS_URL = 'nats://127.0.0.1:4222';
const namespace = `fanout_${randomBytes(4).toString('hex')}`;
const RS = '\x1e';
// A dist copied out of the workspace still resolves its packages from the workspace.
const NODE_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules');

const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
const mint = (claims) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuedAt()
    .setIssuer('http://localhost|login')
    .setExpirationTime('1h')
    .sign(privateKey);

/** Starts one built app and resolves with its port once it logs `listening`. */
function start(app, env) {
  const child = spawn(process.execPath, [join(dist, app, 'apps', app, 'src', 'main.js')], {
    env: { ...process.env, NODE_PATH, HERALD_HOST: '127.0.0.1', HERALD_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`${app} did not start`)), 20_000);
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      for (let newline; (newline = buffered.indexOf('\n')) >= 0;) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const parsed = JSON.parse(line);
          if (parsed.msg === 'listening') {
            clearTimeout(timer);
            resolvePort({ child, port: parsed.port });
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`${app} exited with ${code}`)));
  });
}

/** Counts Invocation messages (type 1) in a MessagePack frame: varint length, then [1, …]. */
function invocationsIn(frame) {
  let count = 0;
  let offset = 0;
  while (offset < frame.length) {
    let length = 0;
    let shift = 0;
    let byte;
    do {
      byte = frame[offset++];
      length |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    // fixarray header, then the message type as a positive fixint.
    if (frame[offset + 1] === 1) count += 1;
    offset += length;
  }
  return count;
}

let received = 0;
const sockets = [];

function openClient(port, token) {
  return new Promise((resolveOpen, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/hub?access_token=${token}`, {
      perMessageDeflate: false,
    });
    let handshaken = false;
    socket.once('open', () => socket.send(`{"protocol":"messagepack","version":1}${RS}`));
    socket.on('message', (data, binary) => {
      if (!handshaken) {
        handshaken = true;
        if (data.toString('utf8') !== `{}${RS}`) reject(new Error(`handshake: ${data.toString('utf8')}`));
        else resolveOpen(socket);
        return;
      }
      if (binary) received += invocationsIn(data);
    });
    socket.once('error', reject);
    socket.once('close', () => {
      if (!handshaken) reject(new Error('closed before the handshake'));
    });
  });
}

const log = (message) => process.stderr.write(`fanout-quick: ${message}\n`);
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
// Bounded in time whatever happens.
setTimeout(
  () => {
    log('took too long; giving up');
    process.exit(3);
  },
  (SECONDS + 120) * 1000,
).unref();

const organizationId = randomUUID();
const env = { HERALD_NATS_URL: NATS_URL, HERALD_NAMESPACE: namespace };
let dispatcher;
let gateway;
try {
  dispatcher = await start('dispatcher', { ...env, HERALD_DISPATCHER_PORT: '0' });
  gateway = await start('gateway', {
    ...env,
    HERALD_GATEWAY_PORT: '0',
    HERALD_JWT_PUBLIC_KEY: await exportSPKI(publicKey),
    HERALD_CONNECTIONS_PER_IP: String(CONNECTIONS + 100),
  });
  log(`gateway on ${gateway.port}; opening ${CONNECTIONS} connections`);
  const tokens = await Promise.all(
    Array.from({ length: CONNECTIONS }, () =>
      mint({
        sub: randomUUID(),
        device: randomUUID(),
        devicetype: 'ChromeBrowser',
        scope: ['api', 'offline_access'],
        amr: ['Application'],
        orguser: [organizationId],
      }),
    ),
  );
  for (let index = 0; index < tokens.length; index += 100) {
    sockets.push(
      ...(await Promise.all(tokens.slice(index, index + 100).map((t) => openClient(gateway.port, t)))),
    );
  }
  log(`${sockets.length} connected; sending for ${SECONDS} s`);
  const internal = await mint({ sub: 'internal.Api', client_id: 'internal.Api', scope: ['internal'] });
  const body = JSON.stringify({
    type: 18,
    payload: { organizationId, enabled: true },
    contextId: null,
  });
  let accepted = 0;
  let refused = 0;
  const startedAt = performance.now();
  const endAt = startedAt + SECONDS * 1000;
  const receivedAtStart = received;
  async function sender() {
    while (performance.now() < endAt) {
      const response = await fetch(`http://127.0.0.1:${gateway.port}/send`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${internal}` },
        body,
      });
      await response.arrayBuffer();
      if (response.status === 200) accepted += 1;
      else refused += 1;
    }
  }
  await Promise.all(Array.from({ length: INFLIGHT }, sender));
  log(`${accepted} events accepted; waiting for the rest`);
  const inWindow = received - receivedAtStart;
  const windowSeconds = (performance.now() - startedAt) / 1000;
  // Let what was accepted arrive (bounded: 20 s, or 2 s without progress).
  const expected = accepted * CONNECTIONS;
  let last = received;
  let still = 0;
  const drainStart = performance.now();
  while (received < expected && performance.now() - drainStart < 20_000 && still < 4) {
    await new Promise((r) => setTimeout(r, 500));
    still = received === last ? still + 1 : 0;
    last = received;
  }
  const totalSeconds = (performance.now() - startedAt) / 1000;
  const result = {
    dist,
    connections: CONNECTIONS,
    eventsAccepted: accepted,
    refused,
    deliveriesExpected: expected,
    deliveriesReceived: received - receivedAtStart,
    perSecondInWindow: Math.round(inWindow / windowSeconds),
    perSecondOverall: Math.round((received - receivedAtStart) / totalSeconds),
    windowSeconds: Number(windowSeconds.toFixed(1)),
    totalSeconds: Number(totalSeconds.toFixed(1)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  for (const socket of sockets) socket.terminate();
  for (const service of [gateway, dispatcher]) {
    if (!service) continue;
    service.child.kill('SIGTERM');
    await new Promise((r) => {
      const timer = setTimeout(() => (service.child.kill('SIGKILL'), r()), 10_000);
      service.child.once('exit', () => (clearTimeout(timer), r()));
    });
  }
  const nats = await connect({ servers: NATS_URL });
  const manager = await nats.jetstreamManager();
  for await (const stream of manager.streams.list()) {
    const name = stream.config.name;
    if (name.startsWith(`${namespace}_`) || name.startsWith(`KV_${namespace}_`))
      await manager.streams.delete(name);
  }
  await nats.close();
}
