import { beforeAll, describe, expect, it, jest } from '@jest/globals';

import { refusalOf } from './testing/refusal.fixture';
import {
  bitwardenClaims,
  createSigningKey,
  handMadeToken,
  nowSeconds,
  publicPem,
  signToken,
  type SigningKey,
} from './testing/token.fixture';
import { TokenVerifier } from './token-verifier';

describe('TokenVerifier', () => {
  let key: SigningKey;
  let pem: string;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    key = await createSigningKey('RS256');
    pem = await publicPem(key);
    verifier = await TokenVerifier.create({ publicKey: pem });
  });

  describe('Vaultwarden-shaped tokens', () => {
    const issuer = 'https://vault.example|login';

    function vaultwardenClaims(devicetype: string | number) {
      const now = nowSeconds();
      return {
        nbf: now,
        exp: now + 7200,
        iss: issuer,
        sub: 'b5a1f2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b',
        premium: true,
        name: 'Test User',
        email: 'user@example.com',
        email_verified: true,
        orgowner: [],
        orgadmin: [],
        orguser: [],
        orgmanager: [],
        sstamp: 'stamp',
        device: 'e3f0c8a2-1b4d-4e6f-9a0b-c1d2e3f4a5b6',
        devicetype,
        scope: ['api', 'offline_access'],
        amr: ['Application'],
      };
    }

    it('verifies a token with typ JWT and the DOMAIN|login issuer', async () => {
      const vaultwarden = await TokenVerifier.create({ publicKey: pem, issuer });
      const claims = await vaultwarden.verify(
        await signToken(key, vaultwardenClaims('9'), { typ: 'JWT', kid: null }),
      );
      expect(claims).toMatchObject({
        iss: issuer,
        sub: 'b5a1f2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b',
        device: 'e3f0c8a2-1b4d-4e6f-9a0b-c1d2e3f4a5b6',
        devicetype: '9',
        scope: ['api', 'offline_access'],
        amr: ['Application'],
        orgowner: [],
      });
    });

    it('keeps a numeric devicetype as a number', async () => {
      const claims = await verifier.verify(await signToken(key, vaultwardenClaims(9), { typ: 'JWT' }));
      expect(claims.devicetype).toBe(9);
    });
  });

  describe('header type', () => {
    it('accepts no typ, JWT and at+jwt in any case', async () => {
      for (const typ of [null, 'JWT', 'jwt', 'at+jwt', 'AT+JWT', 'application/at+jwt']) {
        await expect(
          verifier.verify(await signToken(key, bitwardenClaims(), { typ })),
        ).resolves.toBeDefined();
      }
    });

    it('refuses any other typ', async () => {
      const token = await signToken(key, bitwardenClaims(), { typ: 'id_token+jwt' });
      expect(await refusalOf(verifier.verify(token))).toMatchObject({ reason: 'bad-type', status: 401 });
    });
  });

  describe('refusals', () => {
    it('refuses alg none', async () => {
      const token = handMadeToken({ alg: 'none', typ: 'JWT' }, bitwardenClaims());
      expect((await refusalOf(verifier.verify(token))).reason).toBe('unsupported-algorithm');
    });

    it('refuses HS256 signed with the public key as the HMAC secret', async () => {
      const token = handMadeToken({ alg: 'HS256', typ: 'JWT' }, bitwardenClaims(), pem);
      expect((await refusalOf(verifier.verify(token))).reason).toBe('unsupported-algorithm');
    });

    it('refuses an RSA algorithm other than RS256', async () => {
      const token = handMadeToken({ alg: 'RS512', typ: 'JWT' }, bitwardenClaims(), 'irrelevant');
      expect((await refusalOf(verifier.verify(token))).reason).toBe('unsupported-algorithm');
    });

    it('refuses an expired token, beyond the tolerance', async () => {
      const now = nowSeconds();
      const token = await signToken(
        key,
        bitwardenClaims({ nbf: now - 7200, iat: now - 7200, exp: now - 120 }),
      );
      expect(await refusalOf(verifier.verify(token))).toMatchObject({ reason: 'expired', status: 401 });
    });

    it('accepts a token expired within the tolerance', async () => {
      const now = nowSeconds();
      const token = await signToken(key, bitwardenClaims({ nbf: now - 3600, exp: now - 30 }));
      await expect(verifier.verify(token)).resolves.toBeDefined();
    });

    it('refuses a token not valid yet, beyond the tolerance', async () => {
      const token = await signToken(key, bitwardenClaims({ nbf: nowSeconds() + 300 }));
      expect((await refusalOf(verifier.verify(token))).reason).toBe('not-yet-valid');
    });

    it('accepts a token not valid yet within the tolerance', async () => {
      const token = await signToken(key, bitwardenClaims({ nbf: nowSeconds() + 30 }));
      await expect(verifier.verify(token)).resolves.toBeDefined();
    });

    it('honours a configured tolerance', async () => {
      const strict = await TokenVerifier.create({ publicKey: pem, clockToleranceSeconds: 0 });
      const token = await signToken(key, bitwardenClaims({ nbf: nowSeconds() + 30 }));
      expect((await refusalOf(strict.verify(token))).reason).toBe('not-yet-valid');
    });

    it('refuses a wrong or missing issuer when one is expected', async () => {
      const strict = await TokenVerifier.create({ publicKey: pem, issuer: 'http://localhost/identity' });
      await expect(strict.verify(await signToken(key, bitwardenClaims()))).resolves.toBeDefined();
      const wrong = await signToken(key, bitwardenClaims({ iss: 'https://evil.example/identity' }));
      expect((await refusalOf(strict.verify(wrong))).reason).toBe('wrong-issuer');
      const missing = await signToken(key, bitwardenClaims({ iss: undefined }));
      expect((await refusalOf(strict.verify(missing))).reason).toBe('wrong-issuer');
    });

    it('refuses a token without exp', async () => {
      const token = await signToken(key, bitwardenClaims({ exp: undefined }));
      expect((await refusalOf(verifier.verify(token))).reason).toBe('missing-claim');
    });

    it('refuses a tampered payload', async () => {
      const [header, , signature] = (await signToken(key, bitwardenClaims())).split('.');
      const forged = Buffer.from(JSON.stringify(bitwardenClaims({ sub: 'someone-else' }))).toString(
        'base64url',
      );
      const token = `${header}.${forged}.${signature}`;
      expect((await refusalOf(verifier.verify(token))).reason).toBe('bad-signature');
    });

    it('refuses a token signed by another key', async () => {
      const other = await createSigningKey('RS256');
      const token = await signToken(other, bitwardenClaims());
      expect((await refusalOf(verifier.verify(token))).reason).toBe('bad-signature');
    });

    it('refuses garbage as malformed', async () => {
      for (const garbage of [
        'garbage',
        'a.b.c',
        'a.b',
        'x'.repeat(40_000),
        '..',
        `${'eyJhbGciOiJSUzI1NiJ9'}.%%%.sig`,
      ]) {
        expect((await refusalOf(verifier.verify(garbage))).reason).toBe('malformed');
      }
    });

    it('refuses a payload that is not a JSON object', async () => {
      const token = await signToken(key, bitwardenClaims());
      const [header, , signature] = token.split('.');
      const notJson = Buffer.from('not json').toString('base64url');
      expect((await refusalOf(verifier.verify(`${header}.${notJson}.${signature}`))).reason).toMatch(
        /malformed|bad-signature/,
      );
    });

    it('reports a missing token', async () => {
      expect(await refusalOf(verifier.verify(''))).toMatchObject({ reason: 'missing-token', status: 401 });
      expect((await refusalOf(verifier.verify('   '))).reason).toBe('missing-token');
    });

    it('never puts the token in the error message', async () => {
      const now = nowSeconds();
      const tokens = [
        await signToken(key, bitwardenClaims({ exp: now - 3600 })),
        await signToken(key, bitwardenClaims(), { typ: 'weird' }),
        handMadeToken({ alg: 'HS256' }, bitwardenClaims(), pem),
        'not-a-token-at-all',
      ];
      for (const token of tokens) {
        const error = await refusalOf(verifier.verify(token));
        expect(error.message).not.toContain(token);
        expect(error.message).not.toContain(token.split('.')[1] ?? token);
      }
    });
  });

  describe('result cache', () => {
    it('serves the same token from the cache', async () => {
      const fresh = await TokenVerifier.create({ publicKey: pem });
      const token = await signToken(key, bitwardenClaims());
      const first = await fresh.verify(token);
      const second = await fresh.verify(token);
      expect(second).toBe(first);
      // Another verifier has its own cache, so it verifies again and builds its own result.
      expect(await verifier.verify(token)).not.toBe(first);
    });

    it('never serves a token from the cache once it has expired', async () => {
      // The clock is the test's: only Date moves, and only when the test moves it, so a slow
      // machine cannot expire the token before the first check or keep it alive after the second.
      jest.useFakeTimers({ doNotFake: [...TIMERS_THAT_KEEP_RUNNING], now: Date.now() });
      try {
        const strict = await TokenVerifier.create({ publicKey: pem, clockToleranceSeconds: 0 });
        const exp = nowSeconds() + 60;
        const token = await signToken(key, bitwardenClaims({ exp }));
        await expect(strict.verify(token)).resolves.toBeDefined();
        // Cached and still valid a moment before exp.
        jest.setSystemTime(exp * 1000 - 1);
        await expect(strict.verify(token)).resolves.toBeDefined();
        // Once exp passes the same token must be refused, not served from the cache.
        jest.setSystemTime(exp * 1000);
        await expect(strict.verify(token)).rejects.toMatchObject({ reason: 'expired' });
      } finally {
        jest.useRealTimers();
      }
    });
  });
});

/** Everything but Date: signing and verifying wait on real promises and timers. */
const TIMERS_THAT_KEEP_RUNNING = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;
