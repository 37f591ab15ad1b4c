// Builds Nx projects quietly (the output is shown only if the build fails), then runs one of them.
//   node scripts/built.mjs <project> [-- args...]
// `npm start` runs the single-process Herald this way and `npm run herald` the CLI: whatever
// changed since the last build is rebuilt first (Nx's cache makes an unchanged build instant).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
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
  const build = spawnSync(
    process.execPath,
    // The single process's banner points at the CLI next: build it along.
    [
      join(root, 'node_modules/nx/dist/bin/nx.js'),
      'run-many',
      '-t',
      'build',
      '-p',
      project === 'standalone' ? 'standalone,cli' : project,
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
    process.stderr.write(
      `${build.stdout}${build.stderr}\nherald: the build of ${project} failed (output above)\n`,
    );
    process.exit(1);
  }
}

process.argv = [process.argv[0], main, ...args];
await import(pathToFileURL(main).href);
