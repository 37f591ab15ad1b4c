// Builds Nx projects without Nx's own chatter (no daemon, cloud, TUI or prompts); the output is
// shown only when the build fails, and then the process exits 1. Used before anything opens a
// socket, so blocking here is fine.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds `projects` (comma-separated Nx project names); `who` names the caller in the error. */
export function quietBuild(projects, who) {
  const build = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/nx/dist/bin/nx.js'),
      'run-many',
      '-t',
      'build',
      '-p',
      projects,
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
      `${build.stdout}${build.stderr}\n${who}: the build of ${projects} failed (output above)\n`,
    );
    process.exit(1);
  }
}
