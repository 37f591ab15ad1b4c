import { describe, expect, it } from '@jest/globals';

import { ConfigError, loadConfig } from '@herald/platform';

import { gatewayConfigSchema } from './gateway.config';

const PEM_CERT = '-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----';
const PUBLIC_KEY = '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----';

/** The problems the gateway's boot would report for this environment (none: []). */
function problemsOf(environment: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(gatewayConfigSchema, environment);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('gateway configuration rules', () => {
  const base = { HERALD_JWT_PUBLIC_KEY: PUBLIC_KEY };

  it('accepts a minimal configuration and applies the replay defaults', () => {
    expect(loadConfig(gatewayConfigSchema, base)).toMatchObject({
      HERALD_REPLAY_MAX_MESSAGES: 100,
      HERALD_REPLAY_MAX_HELD: 10_000,
      HERALD_CORS_ORIGINS: [],
    });
  });

  describe('TLS', () => {
    it('takes a certificate and a key together', () => {
      expect(
        loadConfig(gatewayConfigSchema, { ...base, HERALD_TLS_CERT: PEM_CERT, HERALD_TLS_KEY: PEM_KEY }),
      ).toMatchObject({
        HERALD_TLS_CERT: expect.stringContaining('\n-----END CERTIFICATE-----'),
        HERALD_TLS_KEY: expect.stringContaining('\n-----END PRIVATE KEY-----'),
      });
    });

    it('refuses a certificate without a key, naming the key', () => {
      expect(problemsOf({ ...base, HERALD_TLS_CERT: PEM_CERT })).toEqual([
        'HERALD_TLS_KEY: HERALD_TLS_CERT and HERALD_TLS_KEY go together (unset)',
      ]);
    });

    it('refuses a key without a certificate, naming the certificate', () => {
      expect(problemsOf({ ...base, HERALD_TLS_KEY: PEM_KEY })).toEqual([
        'HERALD_TLS_CERT: HERALD_TLS_CERT and HERALD_TLS_KEY go together (unset)',
      ]);
    });

    it('refuses what is neither PEM text nor a readable file, without echoing it', () => {
      const problems = problemsOf({
        ...base,
        HERALD_TLS_CERT: '/nonexistent/cert.pem',
        HERALD_TLS_KEY: PEM_KEY,
      });
      expect(problems).toEqual([
        'HERALD_TLS_CERT: expected PEM text or the path of a readable PEM file (value hidden)',
      ]);
    });
  });

  describe('token source', () => {
    const jwtProblem =
      'HERALD_JWT_PUBLIC_KEY: set exactly one of HERALD_JWT_PUBLIC_KEY, HERALD_JWT_JWKS_URL or HERALD_JWT_AUTHORITY';

    it.each([
      ['a public key', { HERALD_JWT_PUBLIC_KEY: PUBLIC_KEY }],
      ['a JWKS URL', { HERALD_JWT_JWKS_URL: 'https://identity.example/.well-known/jwks' }],
      ['an authority', { HERALD_JWT_AUTHORITY: 'https://identity.example' }],
    ])('accepts %s alone', (_name, source) => {
      expect(problemsOf(source)).toEqual([]);
    });

    it('refuses no source at all', () => {
      expect(problemsOf({})).toEqual([`${jwtProblem} (unset)`]);
    });

    it.each([
      ['key and JWKS', { HERALD_JWT_PUBLIC_KEY: PUBLIC_KEY, HERALD_JWT_JWKS_URL: 'https://id.example/jwks' }],
      [
        'key and authority',
        { HERALD_JWT_PUBLIC_KEY: PUBLIC_KEY, HERALD_JWT_AUTHORITY: 'https://id.example' },
      ],
      [
        'JWKS and authority',
        { HERALD_JWT_JWKS_URL: 'https://id.example/jwks', HERALD_JWT_AUTHORITY: 'https://id.example' },
      ],
    ])('refuses two sources (%s)', (_name, sources) => {
      expect(problemsOf(sources)).toEqual([expect.stringMatching(new RegExp(`^${jwtProblem}`))]);
    });

    it('refuses a JWKS URL or authority that is not http(s)', () => {
      expect(
        problemsOf({ HERALD_JWT_JWKS_URL: 'ftp://id.example/jwks' }).map((problem) => problem.split(':')[0]),
      ).toEqual(expect.arrayContaining(['HERALD_JWT_JWKS_URL']));
    });
  });

  describe('CORS origins', () => {
    it('accepts web and extension origins, with ports, trimming spaces and empty entries', () => {
      expect(
        loadConfig(gatewayConfigSchema, {
          ...base,
          HERALD_CORS_ORIGINS: 'https://vault.example.com, http://localhost:8080,,chrome-extension://abcdef',
        }).HERALD_CORS_ORIGINS,
      ).toEqual(['https://vault.example.com', 'http://localhost:8080', 'chrome-extension://abcdef']);
    });

    it.each([
      'vault.example.com',
      'https://vault.example.com/',
      'https://vault.example.com/web',
      '*',
      'https://',
    ])('refuses %j, naming it', (origin) => {
      expect(problemsOf({ ...base, HERALD_CORS_ORIGINS: `https://ok.example,${origin}` })).toEqual([
        expect.stringMatching(new RegExp(`^HERALD_CORS_ORIGINS: not an origin: ${escape(origin)} \\(`)),
      ]);
    });
  });

  it('names every broken rule at once', () => {
    const problems = problemsOf({
      HERALD_TLS_KEY: PEM_KEY,
      HERALD_CORS_ORIGINS: 'example.com',
      HERALD_REPLAY_MAX_HELD: '-1',
    });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([
      'HERALD_CORS_ORIGINS',
      'HERALD_JWT_PUBLIC_KEY',
      'HERALD_REPLAY_MAX_HELD',
      'HERALD_TLS_CERT',
    ]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
