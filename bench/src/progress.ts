/** Progress on stderr, one line per step, e.g. `[fanout herald] connected 6000/10000`; stdout keeps the tables. */
export function progress(scenario: string, server: string, message: string): void {
  process.stderr.write(`[${scenario} ${server}] ${message}\n`);
}

export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** 12345.6 → "12,346" */
export function grouped(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}
