#!/usr/bin/env node
import 'reflect-metadata';

import { runCli } from './herald-cli';

// `herald`: the operator's command line (apps/cli/src/herald-cli.ts lists the commands).
runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`herald: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
