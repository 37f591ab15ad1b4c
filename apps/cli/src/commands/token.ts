import { existsSync } from 'node:fs';

import { devKeyPaths, mintDevToken } from '@herald/auth';
import { DeviceType, parseDeviceType } from '@herald/contracts';

import { type Command, dataDirOf, durationSeconds, guidOption, parse, UsageError } from '../cli';

const USAGE = `herald token user [--user ID] [--device ID] [--device-type TYPE] [--org ID]... [--expires 12h]
herald token internal [--client-id ID] [--expires 12h]

Mints an access token signed by the development key pair that \`npm start\` trusts when no
HERALD_JWT_* source is configured (in HERALD_DATA_DIR, default .herald-data). Prints the token.

  user       a client's token (scope api, amr Application): connect to the hub with
             ?access_token=<token>
  internal   a vault API's token (scope internal) for POST /send

Options:
  --user ID            the user (GUID; default a new one)
  --device ID          the device (GUID; default a new one)
  --device-type TYPE   Bitwarden's device type, name or number (default ChromeBrowser)
  --org ID             an organization the user belongs to (repeat for several)
  --client-id ID       the internal client's id (default internal.Api)
  --expires DURATION   lifetime: 90s, 15m, 12h, 7d (default 12h)
  --data-dir DIR       where the development key pair is (default HERALD_DATA_DIR or .herald-data)`;

export const tokenCommand: Command = {
  name: 'token',
  summary: 'mint a development token (user or internal)',
  usage: USAGE,
  async run(args, output) {
    const { values, positionals } = parse(
      args,
      {
        user: { type: 'string' },
        device: { type: 'string' },
        'device-type': { type: 'string' },
        org: { type: 'string', multiple: true },
        'client-id': { type: 'string' },
        expires: { type: 'string', default: '12h' },
        'data-dir': { type: 'string' },
      },
      USAGE,
    );
    const [kind, ...extra] = positionals;
    if (kind !== 'user' && kind !== 'internal') {
      throw new UsageError(kind ? `unknown token kind "${kind}"` : 'which token: user or internal?', USAGE);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, USAGE);
    const dataDir = dataDirOf(values['data-dir']);
    const expiresIn = durationSeconds('expires', values.expires, USAGE);
    const created = !existsSync(devKeyPaths(dataDir).privateKeyPath);
    let token: string;
    if (kind === 'internal') {
      if (values.user || values.device || values['device-type'] || values.org) {
        throw new UsageError('--user, --device, --device-type and --org belong to a user token', USAGE);
      }
      token = await mintDevToken(dataDir, { kind, clientId: values['client-id'], expiresIn });
    } else {
      if (values['client-id']) throw new UsageError('--client-id belongs to an internal token', USAGE);
      const deviceType = values['device-type'];
      if (deviceType !== undefined && parseDeviceType(deviceType) === undefined) {
        throw new UsageError(
          `--device-type "${deviceType}" is not a Bitwarden device type (e.g. ${DeviceType[DeviceType.Android]}, ${DeviceType[DeviceType.ChromeExtension]}, ${DeviceType[DeviceType.WindowsDesktop]} or a number)`,
          USAGE,
        );
      }
      token = await mintDevToken(dataDir, {
        kind,
        userId: guidOption('user', values.user, USAGE),
        deviceId: guidOption('device', values.device, USAGE),
        deviceType,
        organizations: (values.org ?? []).map((org) => guidOption('org', org, USAGE) ?? org),
        expiresIn,
      });
    }
    if (created) {
      output.err(
        `herald: made a development key pair in ${devKeyPaths(dataDir).dataDir}; a Herald started before it will not trust it`,
      );
    }
    output.out(token);
    return 0;
  },
};
