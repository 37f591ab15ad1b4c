import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how a command was called: its message and the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Something the command tried and could not do (unreachable server, refused request): exit code 1. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Where a command writes; tests hand in their own. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[], output: Output): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** `node:util` parseArgs, strict, with its errors turned into a UsageError that shows the usage. */
export function parse<O extends Options>(
  args: string[],
  options: O,
  usage: string,
): {
  values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>['values'];
  positionals: string[];
} {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError(
      error instanceof Error ? error.message.replace(/\. To specify.*$/s, '') : String(error),
      usage,
    );
  }
}

export function wantsHelp(args: string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function guidOption(name: string, value: string | undefined, usage: string): string | undefined {
  if (value === undefined) return undefined;
  if (!GUID.test(value)) throw new UsageError(`--${name} must be a GUID, got "${value}"`, usage);
  return value.toLowerCase();
}

/** `90s`, `15m`, `12h`, `7d` or a number of seconds, in seconds. */
export function durationSeconds(name: string, value: string, usage: string): number {
  const match = /^(\d+)(s|m|h|d)?$/.exec(value.trim());
  if (!match)
    throw new UsageError(`--${name} must be a duration like 90s, 15m, 12h or 7d, got "${value}"`, usage);
  const factor = { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] ?? 's'] ?? 1;
  return Number(match[1]) * factor;
}

/** A fixed-width table for a terminal. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** `fetch`, with a network failure turned into a CommandError that names the URL. */
export async function request(url: string, init: RequestInit = {}, what = 'Herald'): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(10_000) });
  } catch (error) {
    const cause =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new CommandError(`cannot reach ${what} at ${url}: ${cause}`);
  }
}

export function dataDirOf(value: string | undefined): string {
  return value ?? (process.env['HERALD_DATA_DIR'] || '.herald-data');
}
