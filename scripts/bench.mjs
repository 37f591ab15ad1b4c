// The benchmark harness (docs/benchmarks.md):
//   npm run bench -- <fanout|idle|storm|pipeline|scale|standalone|all> [--clients N] [--quick]
//                    [--servers herald,ws-floor,socketio,standalone] [--dispatcher-concurrency N]
// Builds the gateway, the dispatcher, the single process and the harness quietly through Nx
// (whatever changed since the last build; Nx's cache makes an unchanged build instant), then runs
// dist/bench. Needs NATS with JetStream on
// 127.0.0.1:4222 (HERALD_TEST_NATS_URL overrides) and, for the socketio baseline, Redis on :6379.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { quietBuild, root } from './quiet-build.mjs';

const main = join(root, 'dist/bench/bench/src/main.js');
const args = process.argv.slice(2);
const forwarded = args[0] === '--' ? args.slice(1) : args;

process.stderr.write('[bench] building the gateway, the dispatcher, the single process and the harness…\n');
quietBuild('gateway,dispatcher,standalone,bench', 'bench');

// The build is done before any socket exists; from here on nothing blocks the event loop.
process.argv = [process.argv[0], main, ...forwarded];
await import(pathToFileURL(main).href);
