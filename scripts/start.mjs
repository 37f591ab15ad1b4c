// `npm start`: runs the four built services on this machine, each as its own process, until
// Ctrl-C or SIGTERM (forwarded, so every service drains cleanly). Needs NATS with JetStream at
// HERALD_NATS_URL (default nats://127.0.0.1:4222). Without a configured token source it trusts a
// development key pair (see `npm run token`).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureDevKeys } from './dev-keys.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env };
if (!env.HERALD_JWT_PUBLIC_KEY && !env.HERALD_JWT_JWKS_URL && !env.HERALD_JWT_AUTHORITY) {
  const { publicKeyPath } = await ensureDevKeys();
  env.HERALD_JWT_PUBLIC_KEY = publicKeyPath;
  process.stderr.write(`herald: no token source configured; trusting the development key ${publicKeyPath}\n`);
}

const apps = ['dispatcher', 'gateway', 'push-worker', 'heartbeat'];
const children = apps.map((app) => {
  const child = spawn(process.execPath, [join(root, 'dist', app, 'apps', app, 'src', 'main.js')], {
    env,
    stdio: 'inherit',
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`herald: ${app} exited (${signal ?? code}); stopping the others\n`);
      stop('SIGTERM', 1);
    }
    running -= 1;
    if (running === 0) process.exit(exitCode);
  });
  return child;
});

let running = children.length;
let stopping = false;
let exitCode = 0;

function stop(signal, code = 0) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}

process.on('SIGINT', () => stop('SIGTERM'));
process.on('SIGTERM', () => stop('SIGTERM'));
