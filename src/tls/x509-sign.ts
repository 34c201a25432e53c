// Certificate signing with @peculiar/x509 over Web Crypto, for what selfsigned cannot do: sign with an
// existing CA key for a public key we do not hold (an intermediate issuer, a leaf from a CSR) and add a name
// constraint. Loaded only by the code paths that sign (`mesh certs ca issuer`, the registry's identity API).
import { createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { MeshError } from '../core/errors.js';

x509.cryptoProvider.set(webcrypto as never);

export { x509 };

export interface SigningKey {
  key: webcrypto.CryptoKey;
  /** What X509CertificateGenerator signs with (ECDSA + hash, or RSASSA-PKCS1-v1_5). */
  algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

const HASH_FOR_CURVE: Record<string, string> = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' };
const CURVE_NAME: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Imports a Node private key (EC or RSA, as `mesh certs ca init` makes them) into Web Crypto for signing. */
export async function importSigningKey(keyPemOrObject: string | KeyObject): Promise<SigningKey> {
  const key = typeof keyPemOrObject === 'string' ? createPrivateKey(keyPemOrObject) : keyPemOrObject;
  const der = key.export({ format: 'der', type: 'pkcs8' });
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVE_NAME[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!curve) throw new MeshError('MESH_ERR_TLS', `unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve}; use P-256, P-384 or P-521`);
    const k = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: curve }, false, ['sign']);
    return { key: k as webcrypto.CryptoKey, algorithm: { name: 'ECDSA', hash: HASH_FOR_CURVE[curve]! } as webcrypto.EcdsaParams };
  }
  if (key.asymmetricKeyType === 'rsa') {
    const k = await webcrypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    return { key: k as webcrypto.CryptoKey, algorithm: { name: 'RSASSA-PKCS1-v1_5' } };
  }
  throw new MeshError('MESH_ERR_TLS', `unsupported key type ${key.asymmetricKeyType}; mesh signs with EC or RSA keys`);
}

/** A fresh ECDSA P-256 key pair (extractable, so the private key can be handed to node:tls as PEM). */
export async function generateP256(): Promise<webcrypto.CryptoKeyPair> {
  return await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
}

export async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

/** A positive 128-bit serial number (RFC 5280: positive, at most 20 octets, unpredictable). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f | 0x01;
  return b.toString('hex');
}

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

/**
 * nameConstraints (RFC 5280 4.2.1.10) permitting only URI names whose host is the trust domain, i.e.
 * spiffe://<trust-domain>/…: an issuer key that leaks cannot mint identities for another trust domain that
 * a verifier trusting the same root would accept. Critical, as the RFC requires. The structure is three
 * nested SEQUENCEs around one IA5String; @peculiar/x509 has no class for it, so it is encoded here.
 */
export function spiffeNameConstraints(trustDomain: string): x509.Extension {
  const uri = der(0x86, Buffer.from(trustDomain, 'ascii')); // GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String
  const subtree = der(0x30, uri); // GeneralSubtree { base } (minimum 0 is the default, so omitted)
  const permitted = der(0xa0, subtree); // permittedSubtrees [0] IMPLICIT GeneralSubtrees
  return new x509.Extension('2.5.29.30', true, der(0x30, permitted));
}
