import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { importSPKI, importX509, type CryptoKey } from 'jose';

/** The algorithms Herald accepts at all. Bitwarden Identity and Vaultwarden both sign with RS256. */
export type SigningAlgorithm = 'RS256' | 'ES256';

export interface PemKey {
  algorithm: SigningAlgorithm;
  key: CryptoKey;
}

const pemLabelPattern = /-----BEGIN ([A-Z0-9 ]+)-----/;

/**
 * Reads `publicKey` (PEM text, or a path to a file holding it) and imports it for the one
 * algorithm its key type allows. Errors name the option and never echo key material.
 */
export async function loadPemKey(publicKey: string): Promise<PemKey> {
  const pem = await readPem(publicKey);
  const label = pemLabelPattern.exec(pem)?.[1];
  switch (label) {
    case 'PUBLIC KEY': {
      const algorithm = algorithmOf(parse(() => createPublicKey(pem)));
      return { algorithm, key: await importSPKI(pem, algorithm) };
    }
    case 'RSA PUBLIC KEY': {
      // jose imports SPKI only; node:crypto converts the PKCS#1 form some tools (openssl rsa -RSAPublicKey_out) write.
      const keyObject = parse(() => createPublicKey({ key: pem, format: 'pem', type: 'pkcs1' }));
      const spki = keyObject.export({ type: 'spki', format: 'pem' }).toString();
      return { algorithm: algorithmOf(keyObject), key: await importSPKI(spki, algorithmOf(keyObject)) };
    }
    case 'CERTIFICATE': {
      const algorithm = algorithmOf(parse(() => new X509Certificate(pem).publicKey));
      return { algorithm, key: await importX509(pem, algorithm) };
    }
    case undefined:
      throw new Error('publicKey holds no PEM block');
    default:
      // A private key here would mean the gateway holds signing material it never needs.
      throw new Error(`publicKey holds a PEM "${label}"; expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE`);
  }
}

async function readPem(publicKey: string): Promise<string> {
  const value = publicKey.trim();
  if (value.includes('-----BEGIN')) {
    // Environment variables often carry the PEM on one line with literal "\n" sequences.
    return value.includes('\n') ? value : value.replace(/\\n/g, '\n');
  }
  try {
    return (await readFile(value, 'utf8')).trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    // Show the value only when it plausibly is a path: a mangled PEM should not end up in logs.
    const shown = value.length <= 256 && !/\s/.test(value) ? value : 'value not shown';
    throw new Error(`publicKey is neither PEM text nor a readable file (${shown}: ${code})`);
  }
}

function parse(read: () => KeyObject): KeyObject {
  try {
    return read();
  } catch {
    throw new Error('publicKey holds a PEM block that does not parse as a public key');
  }
}

function algorithmOf(keyObject: KeyObject): SigningAlgorithm {
  if (keyObject.asymmetricKeyType === 'rsa') {
    return 'RS256';
  }
  if (keyObject.asymmetricKeyType === 'ec' && keyObject.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return 'ES256';
  }
  throw new Error(
    `publicKey is a ${keyObject.asymmetricKeyType ?? 'unknown'} key; only RSA (RS256) and P-256 (ES256) keys are accepted`,
  );
}
