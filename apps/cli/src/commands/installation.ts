import { openDatabase } from '@herald/persistence';
import { ConfigError, loadConfig } from '@herald/platform';
import { pushConfigSchema } from '@herald/push';

import { type Command, CommandError, guidOption, parse, table, UsageError } from '../cli';

const USAGE = `herald installation create
herald installation list
herald installation disable <id>
herald installation enable <id>

Manages the installations that may use Herald as their push relay (a Bitwarden or Vaultwarden
server's push installation id and key). Uses the push worker's database: HERALD_DATABASE_URL
(PostgreSQL) or, when unset, SQLite in HERALD_DATA_DIR (default .herald-data).

  create    a new installation; prints its id and key (the key is shown only once)
  list      every installation and whether it is enabled
  disable   refuse its credentials from now on
  enable    accept them again`;

export const installationCommand: Command = {
  name: 'installation',
  summary: 'create, list, disable or enable push relay installations',
  usage: USAGE,
  async run(args, output) {
    const { positionals } = parse(args, {}, USAGE);
    const [action, id, ...extra] = positionals;
    if (!action) throw new UsageError('which action: create, list, disable or enable?', USAGE);
    if (!['create', 'list', 'disable', 'enable'].includes(action)) {
      throw new UsageError(`unknown action "${action}"`, USAGE);
    }
    const needsId = action === 'disable' || action === 'enable';
    if (needsId && !id) throw new UsageError(`${action} needs the installation id`, USAGE);
    if (!needsId && id) throw new UsageError(`unexpected argument "${id}"`, USAGE);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, USAGE);
    const installationId = needsId ? guidOption('id', id, USAGE) : undefined;

    let config;
    try {
      config = loadConfig(pushConfigSchema);
    } catch (error) {
      if (error instanceof ConfigError) throw new CommandError(error.message);
      throw error;
    }
    let database;
    try {
      database = await openDatabase({ url: config.HERALD_DATABASE_URL, dataDir: config.HERALD_DATA_DIR });
    } catch (error) {
      throw new CommandError(`cannot open the push worker's database: ${(error as Error).message}`);
    }
    try {
      switch (action) {
        case 'create': {
          const { installation, key } = await database.installations.create();
          output.out(`installation id:  ${installation.id}`);
          output.out(`installation key: ${key}`);
          output.out(
            'Give both to the Bitwarden or Vaultwarden server (its push installation id and key); the key is not shown again.',
          );
          return 0;
        }
        case 'list': {
          const installations = await database.installations.list();
          if (installations.length === 0) {
            output.out('no installations yet: herald installation create');
            return 0;
          }
          output.out(
            table(
              ['id', 'enabled', 'created'],
              installations.map((installation) => [
                installation.id,
                installation.enabled ? 'yes' : 'no',
                installation.createdAt.toISOString(),
              ]),
            ),
          );
          return 0;
        }
        default: {
          const changed = await database.installations.setEnabled(installationId!, action === 'enable');
          if (!changed) throw new CommandError(`no installation ${installationId}`);
          output.out(`installation ${installationId} ${action}d`);
          return 0;
        }
      }
    } finally {
      await database.close();
    }
  },
};
