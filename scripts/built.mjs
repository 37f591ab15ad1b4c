// Builds Nx projects quietly (the output is shown only if the build fails), then runs one of them.
//   node scripts/built.mjs <project> [-- args...]
// `npm start` runs the single-process Herald this way and `npm run herald` the CLI: whatever
// changed since the last build is rebuilt first (Nx's cache makes an unchanged build instant).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { quietBuild, root } from './quiet-build.mjs';

const mains = {
  standalone: join(root, 'dist/standalone/apps/standalone/src/main.js'),
  cli: join(root, 'dist/cli/apps/cli/src/main.js'),
};
const [project, ...rest] = process.argv.slice(2);
const main = mains[project];
if (!main) {
  process.stderr.write(`usage: node scripts/built.mjs ${Object.keys(mains).join('|')} [args...]\n`);
  process.exit(2);
}
const args = rest[0] === '--' ? rest.slice(1) : rest;

if (process.env.HERALD_SKIP_BUILD !== '1' || !existsSync(main)) {
  if (project === 'standalone' && process.stdout.isTTY) process.stdout.write('Building Herald…\n');
  // The single process's banner points at the CLI next: build it along.
  quietBuild(project === 'standalone' ? 'standalone,cli' : project, 'herald');
}

process.argv = [process.argv[0], main, ...args];
await import(pathToFileURL(main).href);
