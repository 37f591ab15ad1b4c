// Mints a development access token signed by the dev key that `npm start` trusts.
//   npm run token -- user [USER_ID] [ORG_ID ...]   a client token (scope api, amr Application)
//   npm run token -- internal                      a vault-API token for POST /send (scope internal)
import { randomUUID } from 'node:crypto';

import { SignJWT } from 'jose';

import { devPrivateKey } from './dev-keys.mjs';

const [kind = 'user', subject, ...organizations] = process.argv.slice(2);
const claims =
  kind === 'internal'
    ? { sub: 'internal.Api', client_id: 'internal.Api', scope: ['internal'] }
    : kind === 'user'
      ? {
          sub: subject ?? randomUUID(),
          device: randomUUID(),
          devicetype: 'ChromeBrowser',
          scope: ['api', 'offline_access'],
          amr: ['Application'],
          ...(organizations.length > 0 ? { orguser: organizations } : {}),
        }
      : undefined;
if (!claims) {
  process.stderr.write('usage: npm run token -- user [USER_ID] [ORG_ID ...] | internal\n');
  process.exit(2);
}
const token = await new SignJWT(claims)
  .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
  .setIssuedAt()
  .setIssuer('http://localhost|login')
  .setExpirationTime('12h')
  .sign(await devPrivateKey());
process.stdout.write(`${token}\n`);
