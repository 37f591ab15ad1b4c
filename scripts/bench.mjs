// The benchmark harness (docs/benchmarks.md):
//   npm run bench -- <fanout|idle|storm|all> [--clients N] [--quick] [--servers herald,ws-floor,socketio]
// Builds the gateway and the harness quietly through Nx (whatever changed since the last build;
// Nx's cache makes an unchanged build instant), then runs dist/bench. Needs NATS with JetStream on
// 127.0.0.1:4222 (HERALD_TEST_NATS_URL overrides) and, for the socketio baseline, Redis on :6379.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist/bench/bench/src/main.js');
const args = process.argv.slice(2);
const forwarded = args[0] === '--' ? args.slice(1) : args;

process.stderr.write('[bench] building the gateway and the harness…\n');
const build = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules/nx/dist/bin/nx.js'),
    'run-many',
    '-t',
    'build',
    '-p',
    'gateway,bench',
    '--outputStyle=static',
  ],
  {
    cwd: root,
    env: {
      ...process.env,
      NX_DAEMON: 'false',
      NX_NO_CLOUD: 'true',
      NX_TUI: 'false',
      NX_INTERACTIVE: 'false',
    },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
if (build.status !== 0) {
  process.stderr.write(`${build.stdout}${build.stderr}\nbench: the build failed (output above)\n`);
  process.exit(1);
}

// The build is done before any socket exists; from here on nothing blocks the event loop.
process.argv = [process.argv[0], main, ...forwarded];
await import(pathToFileURL(main).href);
