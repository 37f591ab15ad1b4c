import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { WORKSPACE_ROOT } from '@herald/testing';

/** Where every figures line of a run is also appended, for copying into docs/reliability.md. */
export const FIGURES_FILE = join(WORKSPACE_ROOT, 'tmp', 'soak-figures.log');

export type Figures = Record<string, string | number | boolean>;

/**
 * Prints one test's figures as one line, `[soak:<name>] key=value key=value …`, on the terminal
 * and appended to tmp/soak-figures.log (with the time of the run).
 */
export function printFigures(name: string, figures: Figures): string {
  const line = `[soak:${name}] ${Object.entries(figures)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ')}`;
  process.stdout.write(`\n${line}\n`);
  mkdirSync(join(WORKSPACE_ROOT, 'tmp'), { recursive: true });
  appendFileSync(FIGURES_FILE, `${new Date().toISOString()} ${line}\n`);
  return line;
}

/** Progress while a soak test runs (one short line), so a long run shows it is alive. */
export function progress(name: string, text: string): void {
  process.stdout.write(`[soak:${name}] … ${text}\n`);
}

export const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)}MB`;

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
