import { pino, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/** Paths pino blanks in every log line, whatever logged them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'accessToken',
  'access_token',
];

/** How log lines are written: one JSON object per line, or coloured lines for a person. */
export type LogFormat = 'json' | 'pretty';

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * HERALD_LOG_FORMAT when set (`json` or `pretty`); otherwise pretty when stdout is a terminal and
 * JSON when it is not (containers, CI, a pipe into a log shipper).
 */
export function resolveLogFormat(
  env: NodeJS.ProcessEnv = process.env,
  isTerminal = Boolean(process.stdout.isTTY),
): LogFormat {
  const requested = env['HERALD_LOG_FORMAT']?.trim();
  if (requested === 'json' || requested === 'pretty') return requested;
  return isTerminal ? 'pretty' : 'json';
}

export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    formatters: { level: (label) => ({ level: label }) },
  };
}

/** Log bytes that may wait for stdout; a reader that stalls longer loses lines, never memory. */
const MAX_PENDING_LOG_BYTES = 16 * 1024 * 1024;

/**
 * One logger per process, written to stdout: structured JSON, or (format `pretty`) the same
 * records as short coloured lines. JSON lines are written asynchronously: the lines logged while
 * a write is under way leave together in the next one (a write per line costs more than the line
 * under load), and what is pending is flushed at exit.
 */
export function createLogger(service: string, level: string, format?: LogFormat): Logger {
  if ((format ?? resolveLogFormat()) === 'json') {
    return pino(
      loggerOptions(service, level),
      pino.destination({ dest: 1, sync: false, minLength: 0, maxLength: MAX_PENDING_LOG_BYTES }),
    );
  }
  return pino(
    loggerOptions(service, level),
    pretty({
      sync: true,
      colorize: Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname,service,gatewayId,component',
      singleLine: true,
      messageFormat: '{if component}[{component}] {end}{msg}',
      hideObject: false,
    }),
  );
}
