import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/** Herald's version, from the package.json of the workspace or image the code runs from. */
export function heraldVersion(): string {
  if (cached) return cached;
  let directory = __dirname;
  for (let depth = 0; depth < 10; depth += 1) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'herald' && manifest.version) return (cached = manifest.version);
    } catch {
      // not here; look one level up
    }
    directory = dirname(directory);
  }
  return (cached = 'unknown');
}
