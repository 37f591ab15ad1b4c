import { Client } from 'pg';
import { z } from 'zod';

import { ConfigError, env, loadConfig } from '@herald/platform';
import { installSql, uninstallSql } from '@herald/vaultwarden';

import { type Command, CommandError, parse, UsageError } from '../cli';

const USAGE = `herald vaultwarden install [--print] [--database-url <url>]
herald vaultwarden uninstall [--print] [--database-url <url>]

Installs (or removes) what the Vaultwarden bridge needs in Vaultwarden's PostgreSQL database: the
schema herald_bridge (its change queue and functions) and a trigger on each captured table. The
bridge installs it by itself at start when its role may; use this command when it may not, as a
role that owns Vaultwarden's tables (docs/vaultwarden.md lists the grants). Safe to run again.

  --print          write the SQL to standard output instead of running it
                   (e.g. herald vaultwarden install --print | psql "$VAULTWARDEN_DATABASE_URL")
  --database-url   the database; default HERALD_VAULTWARDEN_DATABASE_URL

uninstall drops the triggers, the functions and the schema, with any change not yet published.`;

export const vaultwardenCommand: Command = {
  name: 'vaultwarden',
  summary: "install or remove the Vaultwarden bridge's triggers (or print their SQL)",
  usage: USAGE,
  async run(args, output) {
    const { values, positionals } = parse(
      args,
      { print: { type: 'boolean' }, 'database-url': { type: 'string' } },
      USAGE,
    );
    const [action, ...extra] = positionals;
    if (action !== 'install' && action !== 'uninstall') {
      throw new UsageError(
        action ? `unknown action "${action}"` : 'which action: install or uninstall?',
        USAGE,
      );
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, USAGE);
    const sql = action === 'install' ? installSql() : uninstallSql();
    if (values.print) {
      output.out(sql);
      return 0;
    }
    const url = values['database-url'] ?? databaseUrlFromEnvironment();
    if (!url) {
      throw new UsageError('give --database-url or set HERALD_VAULTWARDEN_DATABASE_URL', USAGE);
    }
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    const warnings: string[] = [];
    client.on('notice', (notice: { severity?: string; message?: string }) => {
      if (notice.severity === 'WARNING' && notice.message) warnings.push(notice.message);
    });
    try {
      await client.connect();
      await client.query(sql);
    } catch (error) {
      throw new CommandError(`${action} failed: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
    for (const warning of warnings) output.err(`warning: ${warning}`);
    output.out(
      action === 'install'
        ? 'installed: schema herald_bridge and the capture triggers'
        : 'removed: the capture triggers and schema herald_bridge',
    );
    return 0;
  },
};

/** HERALD_VAULTWARDEN_DATABASE_URL, as the bridge reads it. */
function databaseUrlFromEnvironment(): string | undefined {
  try {
    return loadConfig(z.object({ HERALD_VAULTWARDEN_DATABASE_URL: env.optionalString() }))
      .HERALD_VAULTWARDEN_DATABASE_URL;
  } catch (error) {
    if (error instanceof ConfigError) throw new CommandError(error.message);
    throw error;
  }
}
