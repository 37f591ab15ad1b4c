// Operator command: manage the installations that may use Herald as their push relay.
//   npm run installation -- create            prints a new installation id and key (the key only once)
//   npm run installation -- disable <id>      refuses its tokens from now on
//   npm run installation -- enable <id>
// Uses the push worker's database settings (HERALD_DATABASE_URL, HERALD_DATA_DIR).
import 'reflect-metadata';

import { openDatabase } from '@herald/persistence';
import { loadConfig } from '@herald/platform';
import { pushConfigSchema } from '@herald/push';

async function main(): Promise<number> {
  const [command, id] = process.argv.slice(2);
  const config = loadConfig(pushConfigSchema);
  const database = await openDatabase({ url: config.HERALD_DATABASE_URL, dataDir: config.HERALD_DATA_DIR });
  try {
    switch (command) {
      case 'create': {
        const { installation, key } = await database.installations.create();
        console.log(`installation id:  ${installation.id}`);
        console.log(`installation key: ${key}`);
        console.log(
          'Give both to the Bitwarden or Vaultwarden server (its push installation id and key); the key is not shown again.',
        );
        return 0;
      }
      case 'disable':
      case 'enable': {
        if (!id) break;
        const changed = await database.installations.setEnabled(id.toLowerCase(), command === 'enable');
        console.log(changed ? `installation ${id} ${command}d` : `no installation ${id}`);
        return changed ? 0 : 1;
      }
      default:
        break;
    }
    console.error('usage: npm run installation -- create | disable <id> | enable <id>');
    return 2;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
