import { describe, expect, it } from '@jest/globals';

import { ConfigError, loadConfig } from '@herald/platform';

import { pushConfigSchema } from './push.config';

/** The problems the push worker's boot would report for this environment (none: []). */
function problemsOf(environment: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(pushConfigSchema, environment);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const RELAY = {
  HERALD_PUSH_RELAY_URI: 'https://push.bitwarden.com',
  HERALD_PUSH_INSTALLATION_ID: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
  HERALD_PUSH_INSTALLATION_KEY: 'installation-key',
};
const APNS = {
  HERALD_APNS_KEY: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
  HERALD_APNS_KEY_ID: 'ABC123DEFG',
  HERALD_APNS_TEAM_ID: 'TEAM123456',
  HERALD_APNS_TOPIC: 'com.8bit.bitwarden',
};
const WEB_PUSH = {
  HERALD_VAPID_PUBLIC_KEY: 'public',
  HERALD_VAPID_PRIVATE_KEY: 'private',
  HERALD_VAPID_SUBJECT: 'mailto:ops@example.com',
};

describe('push worker configuration rules', () => {
  it('starts with no provider and no token source at all', () => {
    expect(problemsOf({})).toEqual([]);
  });

  it('accepts every provider set complete', () => {
    expect(
      problemsOf({
        ...RELAY,
        ...APNS,
        ...WEB_PUSH,
        HERALD_FCM_SERVICE_ACCOUNT: '{"type":"service_account"}',
      }),
    ).toEqual([]);
  });

  describe.each([
    ['the Bitwarden relay', RELAY],
    ['APNs', APNS],
    ['Web Push', WEB_PUSH],
  ])('%s', (what, set) => {
    const names = Object.keys(set);

    it.each(names)('refuses the set without %s, naming what is missing', (missing) => {
      const partial = Object.fromEntries(Object.entries(set).filter(([name]) => name !== missing));
      expect(problemsOf(partial)).toEqual([`${missing}: ${what} needs ${names.join(', ')} (unset)`]);
    });

    it('names every missing variable when only one is set', () => {
      const [first, ...rest] = names as [string, ...string[]];
      const problems = problemsOf({ [first]: set[first as keyof typeof set] });
      expect(problems.map((problem) => problem.split(':')[0])).toEqual(rest);
    });
  });

  describe('HERALD_WEBPUSH_ALLOWED_HOSTS', () => {
    it('reads host names, addresses and CIDR ranges, comma-separated', () => {
      const config = loadConfig(pushConfigSchema, {
        HERALD_WEBPUSH_ALLOWED_HOSTS: 'push.internal, 127.0.0.1,10.0.0.0/8,,fd00::/8',
      });
      expect(config.HERALD_WEBPUSH_ALLOWED_HOSTS).toEqual([
        'push.internal',
        '127.0.0.1',
        '10.0.0.0/8',
        'fd00::/8',
      ]);
      expect(loadConfig(pushConfigSchema, {}).HERALD_WEBPUSH_ALLOWED_HOSTS).toEqual([]);
    });

    it('refuses an entry that is none of them, naming it', () => {
      expect(problemsOf({ HERALD_WEBPUSH_ALLOWED_HOSTS: '127.0.0.1,10.0.0.0/33' })).toEqual([
        'HERALD_WEBPUSH_ALLOWED_HOSTS: "10.0.0.0/33" has a prefix length outside 0-32 ("127.0.0.1,10.0.0.0/33")',
      ]);
      expect(problemsOf({ HERALD_WEBPUSH_ALLOWED_HOSTS: 'http://push.internal' })).toHaveLength(1);
    });
  });

  describe('token source', () => {
    it.each([
      ['a public key', { HERALD_JWT_PUBLIC_KEY: 'pem' }],
      ['a JWKS URL', { HERALD_JWT_JWKS_URL: 'https://id.example/jwks' }],
      ['an authority', { HERALD_JWT_AUTHORITY: 'https://id.example' }],
    ])('accepts %s alone', (_name, source) => {
      expect(problemsOf(source)).toEqual([]);
    });

    it('refuses more than one', () => {
      expect(
        problemsOf({ HERALD_JWT_PUBLIC_KEY: 'pem', HERALD_JWT_AUTHORITY: 'https://id.example' }),
      ).toEqual(['HERALD_JWT_PUBLIC_KEY: set at most one token source (value hidden)']);
    });
  });

  describe('limits and addresses', () => {
    it('caps each user at 100 registrations by default, and takes another cap', () => {
      expect(loadConfig(pushConfigSchema, {}).HERALD_PUSH_MAX_DEVICES_PER_USER).toBe(100);
      expect(
        loadConfig(pushConfigSchema, { HERALD_PUSH_MAX_DEVICES_PER_USER: '5' })
          .HERALD_PUSH_MAX_DEVICES_PER_USER,
      ).toBe(5);
      expect(problemsOf({ HERALD_PUSH_MAX_DEVICES_PER_USER: '0' })).toEqual([
        expect.stringMatching(/^HERALD_PUSH_MAX_DEVICES_PER_USER: .* \("0"\)$/),
      ]);
    });

    it('reads the trusted proxies and the vault installation, refusing what is no address or GUID', () => {
      const config = loadConfig(pushConfigSchema, {
        HERALD_TRUSTED_PROXIES: '10.0.0.0/8, ::1',
        HERALD_INSTALLATION_ID: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE',
      });
      expect(config.HERALD_TRUSTED_PROXIES).toEqual(['10.0.0.0/8', '::1']);
      expect(config.HERALD_INSTALLATION_ID).toBe('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
      expect(problemsOf({ HERALD_TRUSTED_PROXIES: 'proxy.local' })).toEqual([
        'HERALD_TRUSTED_PROXIES: not an IP address or CIDR range: proxy.local ("proxy.local")',
      ]);
      expect(problemsOf({ HERALD_INSTALLATION_ID: 'vault' })).toEqual([
        'HERALD_INSTALLATION_ID: expected a GUID ("vault")',
      ]);
    });
  });
});
