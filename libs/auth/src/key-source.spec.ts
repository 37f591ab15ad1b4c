import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refusalOf } from './testing/refusal.fixture';
import {
  bitwardenClaims,
  createSigningKey,
  publicPem,
  signToken,
  type SigningKey,
} from './testing/token.fixture';
import { TokenVerifier } from './token-verifier';

/** A self-signed P-256 certificate whose private key was thrown away: only its public key matters here. */
const certificate = `-----BEGIN CERTIFICATE-----
MIIBhDCCASmgAwIBAgIUGxvo8dmGAa433ZKmuMggFjr5li0wCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLaGVyYWxkLXRlc3QwIBcNMjYxMTIzMDQ1MDEzWhgPMjEyNjEw
MzAwNDUwMTNaMBYxFDASBgNVBAMMC2hlcmFsZC10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEpTGKJy88+Ni0sDqD3lo/Fu1GPD95B87sXhwuE8otbG1ZPSlG
GdNrayj4j+bOkOE5F1b7iiTdEylY1smdJTZQ06NTMFEwHQYDVR0OBBYEFGvhevYW
TGPGRuL4mPU1z+Qv3x21MB8GA1UdIwQYMBaAFGvhevYWTGPGRuL4mPU1z+Qv3x21
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAL8EVJsHqlYF9EV9
c9u52k8dByqcuNXIc8NWR1sW7c1AAiEAociVeKEA2czJ9Fm5jHFGjNkLHGJDd9L7
mCHKDdWJa8o=
-----END CERTIFICATE-----`;

describe('TokenVerifier.create options', () => {
  it('requires a key source and names the options', async () => {
    await expect(TokenVerifier.create({})).rejects.toThrow('publicKey, jwksUrl or authority');
    await expect(TokenVerifier.create({ jwksUrl: '  ' })).rejects.toThrow('publicKey, jwksUrl or authority');
  });

  it('refuses two key sources and names both', async () => {
    await expect(
      TokenVerifier.create({ jwksUrl: 'http://127.0.0.1/jwks', authority: 'http://127.0.0.1/identity' }),
    ).rejects.toThrow('jwksUrl and authority');
  });

  it('names the option holding a bad URL', async () => {
    await expect(TokenVerifier.create({ jwksUrl: 'not a url' })).rejects.toThrow('jwksUrl');
    await expect(TokenVerifier.create({ authority: 'ftp://idp.example' })).rejects.toThrow('authority');
  });

  it('names the option holding a bad number', async () => {
    await expect(
      TokenVerifier.create({ jwksUrl: 'http://127.0.0.1/jwks', fetchTimeoutMs: 0 }),
    ).rejects.toThrow('fetchTimeoutMs');
    await expect(
      TokenVerifier.create({ jwksUrl: 'http://127.0.0.1/jwks', clockToleranceSeconds: -1 }),
    ).rejects.toThrow('clockToleranceSeconds');
  });

  it('does not contact a remote key source before the first token', async () => {
    // Port 9 (discard) is closed here: creating must still succeed.
    await expect(TokenVerifier.create({ authority: 'http://127.0.0.1:9/identity' })).resolves.toBeInstanceOf(
      TokenVerifier,
    );
  });
});

describe('TokenVerifier PEM keys', () => {
  let rsaKey: SigningKey;
  let directory: string;

  beforeAll(async () => {
    rsaKey = await createSigningKey('RS256');
    directory = await mkdtemp(join(tmpdir(), 'herald-auth-'));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('verifies RS256 tokens with an SPKI public key', async () => {
    const verifier = await TokenVerifier.create({ publicKey: await publicPem(rsaKey) });
    const claims = await verifier.verify(await signToken(rsaKey, bitwardenClaims()));
    expect(claims.sub).toBe('4c6b3f0e-94ab-4d7b-8e51-ab1200c0ffee');
  });

  it('verifies RS256 tokens with a PKCS#1 RSA PUBLIC KEY', async () => {
    const pkcs1 = createPublicKey(await publicPem(rsaKey))
      .export({ type: 'pkcs1', format: 'pem' })
      .toString();
    expect(pkcs1).toContain('BEGIN RSA PUBLIC KEY');
    const verifier = await TokenVerifier.create({ publicKey: pkcs1 });
    await expect(verifier.verify(await signToken(rsaKey, bitwardenClaims()))).resolves.toBeDefined();
  });

  it('reads the key from a file path', async () => {
    const path = join(directory, 'rsa_key.pub.pem');
    await writeFile(path, await publicPem(rsaKey));
    const verifier = await TokenVerifier.create({ publicKey: path });
    await expect(verifier.verify(await signToken(rsaKey, bitwardenClaims()))).resolves.toBeDefined();
  });

  it('accepts PEM text with escaped newlines, as environment variables carry it', async () => {
    const oneLine = (await publicPem(rsaKey)).trim().replace(/\n/g, '\\n');
    const verifier = await TokenVerifier.create({ publicKey: oneLine });
    await expect(verifier.verify(await signToken(rsaKey, bitwardenClaims()))).resolves.toBeDefined();
  });

  it('names the option when the file cannot be read', async () => {
    await expect(TokenVerifier.create({ publicKey: join(directory, 'missing.pem') })).rejects.toThrow(
      /publicKey .*ENOENT/,
    );
  });

  it('refuses a private key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(TokenVerifier.create({ publicKey: pem })).rejects.toThrow('PRIVATE KEY');
  });

  it('refuses key types other than RSA and P-256', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await expect(TokenVerifier.create({ publicKey: pem })).rejects.toThrow(
      'only RSA (RS256) and P-256 (ES256)',
    );
  });

  it('accepts tokens only with the algorithm of the key', async () => {
    const ecKey = await createSigningKey('ES256');
    const verifier = await TokenVerifier.create({ publicKey: await publicPem(ecKey) });
    await expect(verifier.verify(await signToken(ecKey, bitwardenClaims()))).resolves.toBeDefined();
    const rsaToken = await signToken(rsaKey, bitwardenClaims());
    expect(await refusalOf(verifier.verify(rsaToken))).toMatchObject({
      reason: 'unsupported-algorithm',
      status: 401,
    });
  });

  it('imports an X.509 certificate and checks signatures against its key', async () => {
    const verifier = await TokenVerifier.create({ publicKey: certificate });
    const otherKey = await createSigningKey('ES256');
    expect((await refusalOf(verifier.verify(await signToken(otherKey, bitwardenClaims())))).reason).toBe(
      'bad-signature',
    );
    expect((await refusalOf(verifier.verify(await signToken(rsaKey, bitwardenClaims())))).reason).toBe(
      'unsupported-algorithm',
    );
  });
});
