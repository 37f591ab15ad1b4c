import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';

import { ConfigError, env, HERALD_VARIABLES, loadConfig, requireNatsUrl } from './environment';

const schema = z.object({
  HERALD_NATS_URL: env.natsUrl(),
  HERALD_NAMESPACE: env.namespace(),
  HERALD_GATEWAY_PORT: env.port(8080),
  HERALD_REPLAY_WINDOW: env.duration('15m'),
  HERALD_INSTALLATION_ID: env.guid().optional(),
});

function problemsOf(environment: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(schema, environment);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies documented defaults, treating empty strings as unset', () => {
    expect(loadConfig(schema, { HERALD_NAMESPACE: '' })).toEqual({
      // Unset: the single process keeps its broker in memory; a service of its own refuses to boot.
      HERALD_NATS_URL: undefined,
      HERALD_INSTALLATION_ID: undefined,
      HERALD_NAMESPACE: 'herald',
      HERALD_GATEWAY_PORT: 8080,
      HERALD_REPLAY_WINDOW: 15 * 60_000,
    });
  });

  it('parses durations, ports, GUIDs and NATS server lists', () => {
    expect(
      loadConfig(schema, {
        HERALD_NATS_URL: 'nats://a:4222,nats://b:4222',
        HERALD_GATEWAY_PORT: '0',
        HERALD_REPLAY_WINDOW: '90s',
        HERALD_INSTALLATION_ID: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE',
      }),
    ).toMatchObject({
      HERALD_GATEWAY_PORT: 0,
      HERALD_REPLAY_WINDOW: 90_000,
      HERALD_INSTALLATION_ID: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
    });
  });

  it('takes 1 to 5 stream replicas, 1 when unset', () => {
    const replicas = z.object({ HERALD_STREAM_REPLICAS: env.streamReplicas() });
    expect(loadConfig(replicas, {})).toEqual({ HERALD_STREAM_REPLICAS: 1 });
    expect(loadConfig(replicas, { HERALD_STREAM_REPLICAS: '3' })).toEqual({ HERALD_STREAM_REPLICAS: 3 });
    for (const bad of ['0', '6', '2.5', 'three']) {
      expect(() => loadConfig(replicas, { HERALD_STREAM_REPLICAS: bad })).toThrow(
        new RegExp(`HERALD_STREAM_REPLICAS: .*\\("${bad}"\\)`),
      );
    }
  });

  it('makes a service of its own name HERALD_NATS_URL when it is unset', () => {
    expect(() => requireNatsUrl('gateway', undefined)).toThrow(
      /HERALD_NATS_URL: required when the gateway runs as a service of its own .*`npm start` runs all of Herald in one process without NATS/,
    );
    expect(requireNatsUrl('gateway', 'nats://n:4222')).toBe('nats://n:4222');
  });

  it('names every bad variable', () => {
    const problems = problemsOf({
      HERALD_GATEWAY_PORT: '70000',
      HERALD_NAMESPACE: 'has.dots',
      HERALD_REPLAY_WINDOW: 'soon',
      HERALD_NATS_URL: 'http://x',
    });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([
      'HERALD_GATEWAY_PORT',
      'HERALD_NAMESPACE',
      'HERALD_NATS_URL',
      'HERALD_REPLAY_WINDOW',
    ]);
  });

  it('refuses unknown HERALD_* variables, so a typo never falls back to a default', () => {
    expect(problemsOf({ HERALD_NAMSPACE: 'x', OTHER_VARIABLE: 'ignored' })).toEqual([
      expect.stringMatching(/^HERALD_NAMSPACE: unknown variable/),
    ]);
  });
});

describe('loadConfig never prints the credentials of a URL it refuses', () => {
  const urls = z.object({
    HERALD_NATS_URL: env.natsUrl(),
    // As the push worker's schema has it.
    HERALD_DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected postgres://user@host:port/database')
      .optional(),
    HERALD_PUSH_RELAY_URI: z.url().optional(),
  });

  function shown(environment: NodeJS.ProcessEnv): string {
    try {
      loadConfig(urls, environment);
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    throw new Error('expected a ConfigError');
  }

  it.each([
    [
      'a password',
      { HERALD_DATABASE_URL: 'mysql://herald:s3cret@db:5432/herald' },
      'mysql://***@db:5432/herald',
    ],
    [
      'a password with "@" and "/" in it',
      { HERALD_DATABASE_URL: 'pg://herald:s3/c@ret@db/herald' },
      'pg://***@db/herald',
    ],
    [
      'a password without a scheme',
      { HERALD_DATABASE_URL: 'herald:s3cret@db:5432/herald' },
      '"***@db:5432/herald"',
    ],
    [
      'a password in the query',
      { HERALD_DATABASE_URL: 'db://db/herald?user=herald&password=s3cret' },
      'db://db/herald?user=herald&password=***',
    ],
    [
      'a NATS token and user',
      { HERALD_NATS_URL: 'nats://s3cret@a:4222,nats://u:s3cret@b:4222,http://c' },
      'nats://***@a:4222,nats://***@b:4222,http://c',
    ],
    [
      'a password past the 80 characters shown',
      { HERALD_DATABASE_URL: `x://herald:${'s3cret'.repeat(20)}@db/herald` },
      'x://***@db/herald',
    ],
    ['a password in any URL variable', { HERALD_PUSH_RELAY_URI: 'ftp//user:s3cret@relay' }, '"***@relay"'],
  ])('hides %s', (_what, environment, expected) => {
    const message = shown(environment);
    expect(message).not.toMatch(/s3|cret/);
    expect(message).toContain(expected);
  });
});

describe('the configuration table in README.md', () => {
  // The README is where operators look up a variable; a variable missing there is one they cannot set.
  const readme = readFileSync(join(__dirname, '../../../../README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Operations'));

  it.each(HERALD_VARIABLES)('lists %s', (name) => {
    expect(table).toMatch(new RegExp(`^\\|[^\\n]*\`${name}\``, 'm'));
  });
});
