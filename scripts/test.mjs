// Runs every test tier CI runs (unit, integration, e2e) in one Jest run and ends with the line
// `N passed, N failed` that CI reads. Extra arguments go to Jest (e.g. --selectProjects unit).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const results = join(root, 'tmp', 'jest-results.json');
mkdirSync(dirname(results), { recursive: true });
rmSync(results, { force: true });

// The soak tier is long and runs on its own (`npm run test:soak`): without a --selectProjects of
// the caller's, CI's three tiers are selected.
const args = process.argv.slice(2);
const tiers = args.includes('--selectProjects') ? [] : ['--selectProjects', 'unit', 'integration', 'e2e'];

const jest = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
    '--ci',
    '--maxWorkers=2',
    '--json',
    `--outputFile=${results}`,
    ...tiers,
    ...args,
  ],
  { cwd: root, stdio: 'inherit' },
);

let passed = 0;
let failed = 0;
try {
  const summary = JSON.parse(readFileSync(results, 'utf8'));
  passed = summary.numPassedTests;
  failed = summary.numFailedTests + summary.numRuntimeErrorTestSuites;
} catch {
  failed += 1; // Jest died before writing its results
}
if (jest.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(jest.status === 0 && failed === 0 ? 0 : 1);
