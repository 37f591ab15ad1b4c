import { join } from 'node:path';

/** What the start banner tells a person about the running Herald. */
export interface BannerFacts {
  /** `http://localhost:8080` (or https with TLS). */
  baseUrl: string;
  dataDir: string;
  natsUrl?: string;
  databaseUrl?: string;
  /** The development public key, when no token source is configured. */
  devKeyPath?: string;
}

export interface BannerLines {
  hub: string;
  anonymousHub: string;
  send: string;
  dashboard: string;
  health: string;
  metrics: string;
  dataDir: string;
  engine: string;
  database: string;
  tokens: string;
}

/** A URL's password replaced, so the banner and logs never show it. */
export function hidePassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

export function bannerLines(facts: BannerFacts): BannerLines {
  const ws = facts.baseUrl.replace(/^http/, 'ws');
  return {
    hub: `${ws}/notifications/hub`,
    anonymousHub: `${ws}/notifications/anonymous-hub`,
    send: `${facts.baseUrl}/send`,
    dashboard: `${facts.baseUrl}/dashboard/`,
    health: `${facts.baseUrl}/health/ready`,
    metrics: `${facts.baseUrl}/metrics`,
    dataDir: facts.dataDir,
    engine: facts.natsUrl
      ? `NATS JetStream at ${facts.natsUrl.split(',').map(hidePassword).join(',')}`
      : 'in memory, in this process (events are not kept across restarts; set HERALD_NATS_URL for NATS)',
    database: facts.databaseUrl
      ? `PostgreSQL ${hidePassword(facts.databaseUrl)}`
      : `SQLite ${join(facts.dataDir, 'herald.sqlite')}`,
    tokens: facts.devKeyPath
      ? `development key ${facts.devKeyPath} (mint tokens with the commands below)`
      : 'the configured HERALD_JWT_* source',
  };
}

/** The banner as a person reads it in a terminal. */
export function renderBanner(lines: BannerLines, devKeys: boolean): string {
  const rows: [string, string][] = [
    ['Hub', lines.hub],
    ['Anonymous hub', lines.anonymousHub],
    ['Send events', `POST ${lines.send}  (internal token)`],
    ['Dashboard', lines.dashboard],
    ['Health', `${lines.health}   metrics: ${lines.metrics}`],
    ['Broker', lines.engine],
    ['Database', lines.database],
    ['Data directory', lines.dataDir],
    ['Tokens', lines.tokens],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const next = devKeys
    ? [
        '  Next, in another terminal:',
        '    npm run herald -- token user --user 6f4ff0a4-5f5f-4c4b-9a55-2f1d3c0e8b11',
        '        a token for the hub: connect to the hub URL with ?access_token=<token>',
        '    npm run herald -- publish SyncVault --user 6f4ff0a4-5f5f-4c4b-9a55-2f1d3c0e8b11',
        "        that user's clients get a SyncVault",
        '    npm run herald -- status',
        '        the cluster as a table; npm run herald -- --help lists every command',
      ]
    : [
        '  Next, in another terminal:',
        '    npm run herald -- status',
        '    npm run herald -- doctor https://vault.example.com   (once the reverse proxy is set up)',
      ];
  return [
    '',
    '  Herald is ready: gateway, dispatcher, push worker and heartbeat in one process.',
    '',
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    '',
    ...next,
    '',
    '  Ctrl-C stops it (connections are closed cleanly).',
    '',
  ].join('\n');
}
