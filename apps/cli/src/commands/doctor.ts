import { randomUUID } from 'node:crypto';
import { type IncomingMessage } from 'node:http';

import { WebSocket } from 'ws';

import { type Command, parse, UsageError } from '../cli';

const USAGE = `herald doctor <public URL> [--timeout 10s] [--json]

What to run once the reverse proxy is set up: checks, from where you run it, that the public
URL (e.g. https://vault.example.com) serves Herald the way Bitwarden clients need, and says what
to fix for each failure:

  - https is used;
  - /notifications/hub and /notifications/anonymous-hub upgrade to WebSocket through the proxy
    (Herald refusing a missing token with 401 is the expected answer; a 200 page or a 400
    "websocket_required" means the proxy is wrong);
  - the negotiate routes are reachable (clients that do not skip negotiation need them);
  - /notifications/send and the control routes are NOT reachable from outside;
  - the server's clock agrees with this machine's (tokens carry expiry times).

Exit code 0 when nothing failed, 1 otherwise.`;

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

/** What came back for one request, however it ended. */
interface Answer {
  status?: number;
  contentType?: string;
  body?: string;
  error?: string;
  date?: string;
}

const PROXY_HEADERS_FIX =
  'pass the WebSocket upgrade to Herald: nginx needs `proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; ' +
  'proxy_set_header Connection $connection_upgrade;` in the location (Caddy and Traefik do it by themselves); see docs/operations.md, "Reverse proxy"';

function jsonError(answer: Answer): string | undefined {
  if (!answer.contentType?.includes('json') || !answer.body) return undefined;
  try {
    const body = JSON.parse(answer.body) as { error?: unknown };
    return typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/** Tries a WebSocket upgrade; a refusal is read like any HTTP answer. */
function upgrade(url: string, timeoutMs: number): Promise<Answer & { upgraded?: boolean }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { handshakeTimeout: timeoutMs, followRedirects: false });
    const done = (answer: Answer & { upgraded?: boolean }) => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      resolve(answer);
    };
    socket.once('open', () => {
      socket.close(1000);
      done({ upgraded: true, status: 101 });
    });
    socket.once('unexpected-response', (_request, response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= 65_536) chunks.push(chunk);
      });
      response.once('end', () => {
        done({
          status: response.statusCode,
          contentType: String(response.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
          date: response.headers.date,
        });
        socket.terminate();
      });
      response.once('error', () => done({ status: response.statusCode }));
    });
    socket.once('error', (error) => done({ error: describeNetworkError(error) }));
  });
}

async function httpAnswer(url: string, init: RequestInit, timeoutMs: number): Promise<Answer> {
  try {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      body: body.slice(0, 65_536),
      date: response.headers.get('date') ?? undefined,
    };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    return { error: describeNetworkError(cause) };
  }
}

function describeNetworkError(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return `the TLS certificate is not trusted (${code}): Bitwarden clients will refuse it too`;
  }
  return code ? `${code}: ${message}` : message;
}

/** How to read an answer to a hub upgrade that did not upgrade. */
function hubFailure(path: string, answer: Answer): DoctorCheck {
  const name = `${path} upgrades to WebSocket`;
  if (answer.error) {
    return {
      name,
      status: 'fail',
      detail: `no answer: ${answer.error}`,
      fix: 'check the URL, DNS, firewall and TLS certificate',
    };
  }
  const error = jsonError(answer);
  if (answer.status === 400 && error === 'websocket_required') {
    return {
      name,
      status: 'fail',
      detail:
        'Herald got the request without its Upgrade header: the proxy does not pass the WebSocket upgrade',
      fix: PROXY_HEADERS_FIX,
    };
  }
  if (answer.status !== undefined && answer.status >= 200 && answer.status < 300) {
    return {
      name,
      status: 'fail',
      detail: `the proxy answered ${answer.status} ${answer.contentType || ''}: it serves a page here (the web vault?), not Herald`,
      fix: `route ${path} to Herald (before the web vault's catch-all), with the upgrade headers`,
    };
  }
  if (answer.status === 404) {
    return {
      name,
      status: 'fail',
      detail: '404: nothing answers this path behind the proxy',
      fix: `route ${path} to Herald (the anonymous hub is the one most often forgotten)`,
    };
  }
  if (answer.status === 502 || answer.status === 503 || answer.status === 504) {
    return {
      name,
      status: 'fail',
      detail: `${answer.status}: the proxy cannot reach Herald${error ? ` (${error})` : ''}`,
      fix: 'check that Herald runs and that the proxy points at its address and port (HERALD_GATEWAY_PORT, default 8080)',
    };
  }
  if (answer.status !== undefined && answer.status >= 300 && answer.status < 400) {
    return {
      name,
      status: 'fail',
      detail: `${answer.status}: the proxy redirects the upgrade (clients do not follow redirects on a WebSocket)`,
      fix: 'serve the hub at this exact URL; use the https:// URL the clients are configured with',
    };
  }
  return {
    name,
    status: 'fail',
    detail: `unexpected answer ${answer.status ?? '?'}${error ? ` (${error})` : ''}`,
    fix: PROXY_HEADERS_FIX,
  };
}

export async function runDoctor(publicUrl: string, timeoutMs = 10_000): Promise<DoctorCheck[]> {
  let base: URL;
  try {
    base = new URL(publicUrl);
  } catch {
    throw new UsageError(`not a URL: "${publicUrl}" (e.g. https://vault.example.com)`, USAGE);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new UsageError(`expected an http(s) URL, got ${base.protocol}`, USAGE);
  }
  const root = base.toString().replace(/\/+$/, '');
  const wsRoot = root.replace(/^http/, 'ws');
  const checks: DoctorCheck[] = [];

  checks.push(
    base.protocol === 'https:'
      ? { name: 'https is used', status: 'pass', detail: root }
      : {
          name: 'https is used',
          status: 'fail',
          detail: `${root} is plain http: tokens travel in the query string of the hub URL, and Bitwarden's apps refuse a vault that is not https`,
          fix: 'terminate TLS at the proxy (Caddy does it by itself; nginx: listen 443 ssl with a certificate) and give clients the https:// URL',
        },
  );

  // The user hub: without a token, Herald refuses the upgrade with 401 (what a working proxy shows).
  const hub = await upgrade(`${wsRoot}/notifications/hub`, timeoutMs);
  if (hub.status === 401 && jsonError(hub)) {
    checks.push({
      name: '/notifications/hub upgrades to WebSocket',
      status: 'pass',
      detail: 'the upgrade reached Herald, which refused the missing token with 401 (expected)',
    });
  } else if (hub.upgraded) {
    checks.push({
      name: '/notifications/hub upgrades to WebSocket',
      status: 'warn',
      detail: 'the upgrade was accepted without a token: is this Herald?',
    });
  } else {
    checks.push(hubFailure('/notifications/hub', hub));
  }

  // The anonymous hub takes any auth request id: the upgrade must go through.
  const anonymous = await upgrade(`${wsRoot}/notifications/anonymous-hub?Token=${randomUUID()}`, timeoutMs);
  checks.push(
    anonymous.upgraded
      ? {
          name: '/notifications/anonymous-hub upgrades to WebSocket',
          status: 'pass',
          detail: 'upgraded (login with device works through the proxy)',
        }
      : hubFailure('/notifications/anonymous-hub', anonymous),
  );

  const negotiate = await httpAnswer(
    `${root}/notifications/hub/negotiate?negotiateVersion=1`,
    { method: 'POST' },
    timeoutMs,
  );
  if (
    (negotiate.status === 401 && jsonError(negotiate)) ||
    (negotiate.status === 200 && negotiate.body?.includes('connectionId'))
  ) {
    checks.push({
      name: 'negotiate is reachable',
      status: 'pass',
      detail: `POST /notifications/hub/negotiate answered ${negotiate.status}`,
    });
  } else {
    checks.push({
      name: 'negotiate is reachable',
      status: 'warn',
      detail: `POST /notifications/hub/negotiate answered ${negotiate.status ?? negotiate.error}: Bitwarden's clients skip negotiation and still work; other SignalR clients do not`,
      fix: 'route every path under /notifications/ to Herald (POST as well as the upgrade)',
    });
  }

  // The internal routes must stop at the proxy.
  for (const [path, method] of [
    ['/notifications/send', 'POST'],
    [`/notifications/users/${randomUUID()}/disconnect`, 'POST'],
  ] as const) {
    const answer = await httpAnswer(
      `${root}${path}`,
      { method, headers: { 'Content-Type': 'application/json' }, body: '{}' },
      timeoutMs,
    );
    const reachesHerald =
      answer.status !== undefined &&
      [200, 400, 401, 403, 503].includes(answer.status) &&
      jsonError(answer) !== undefined;
    const name = `${path.replace(/[0-9a-f-]{36}/, '<id>')} is not reachable from outside`;
    checks.push(
      answer.error
        ? { name, status: 'pass', detail: `no answer (${answer.error})` }
        : reachesHerald
          ? {
              name,
              status: 'fail',
              detail: `Herald answered ${answer.status}: the internal route is published; anyone who steals an internal token can push to every user`,
              fix: `block ${path.startsWith('/notifications/send') ? '/notifications/send' : '/notifications/users/'} at the proxy (return 404); the vault API reaches Herald on the internal network`,
            }
          : { name, status: 'pass', detail: `the proxy answered ${answer.status}` },
    );
  }

  const clock = await httpAnswer(`${root}/notifications/now`, { method: 'GET' }, timeoutMs);
  let serverTime: number | undefined;
  try {
    const value: unknown = clock.body ? JSON.parse(clock.body) : undefined;
    if (typeof value === 'string') serverTime = Date.parse(value);
  } catch {
    serverTime = clock.date ? Date.parse(clock.date) : undefined;
  }
  if (serverTime === undefined || Number.isNaN(serverTime)) {
    checks.push({
      name: 'clocks agree',
      status: 'warn',
      detail: `/notifications/now did not answer Herald's time (${clock.status ?? clock.error}); clock not checked`,
      fix: 'route every path under /notifications/ to Herald',
    });
  } else {
    const skewSeconds = Math.round((serverTime - Date.now()) / 1000);
    checks.push(
      Math.abs(skewSeconds) <= 60
        ? {
            name: 'clocks agree',
            status: 'pass',
            detail: `Herald's clock is ${skewSeconds} s from this machine's`,
          }
        : {
            name: 'clocks agree',
            status: 'fail',
            detail: `Herald's clock is ${skewSeconds} s from this machine's: tokens will be refused as expired or not yet valid`,
            fix: 'run NTP (chrony or systemd-timesyncd) on the Herald hosts and on the identity server',
          },
    );
  }
  return checks;
}

export function renderChecks(url: string, checks: DoctorCheck[]): string {
  const mark = { pass: '✔', warn: '!', fail: '✘' } as const;
  const lines = [`herald doctor ${url}`, ''];
  for (const check of checks) {
    lines.push(`  ${mark[check.status]} ${check.name}: ${check.detail}`);
    if (check.fix && check.status !== 'pass') lines.push(`      fix: ${check.fix}`);
  }
  const count = (status: CheckStatus) => checks.filter((check) => check.status === status).length;
  lines.push('', `${count('pass')} passed, ${count('warn')} warnings, ${count('fail')} failed`);
  return lines.join('\n');
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check a public URL: hub upgrades through the proxy, https, /send kept internal',
  usage: USAGE,
  async run(args, output) {
    const { values, positionals } = parse(
      args,
      { timeout: { type: 'string', default: '10s' }, json: { type: 'boolean' } },
      USAGE,
    );
    const [url, ...extra] = positionals;
    if (!url) throw new UsageError('which public URL? e.g. herald doctor https://vault.example.com', USAGE);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, USAGE);
    const match = /^(\d+)(ms|s)?$/.exec(values.timeout);
    if (!match) throw new UsageError(`--timeout must be like 10s or 500ms, got "${values.timeout}"`, USAGE);
    const timeoutMs = Number(match[1]) * (match[2] === 'ms' ? 1 : 1000);
    const checks = await runDoctor(url, timeoutMs);
    output.out(values.json ? JSON.stringify(checks, null, 2) : renderChecks(url, checks));
    return checks.some((check) => check.status === 'fail') ? 1 : 0;
  },
};
