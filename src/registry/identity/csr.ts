// Reading a certificate signing request (PKCS#10). The registry trusts only two things in it: the public key,
// and the signature that proves the caller holds the matching private key. The identity comes from the token
// or the renewed certificate; a CSR that *asks* for another SPIFFE ID is refused, and everything else it asks
// for (subject, DNS and IP names, key usages, other extensions) is ignored.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { MeshError } from '../../core/errors.js';
import { x509 } from '../../tls/x509-sign.js';

export const MAX_CSR_BYTES = 16 * 1024;

export interface ReadCsr {
  /** The CSR's public key, re-encoded by Node (SPKI). */
  publicKey: KeyObject;
  publicKeyDer: Buffer;
  /** The SPIFFE IDs the CSR's subjectAltName asks for (usually none or one). */
  requestedUris: string[];
  /** The DER of the CSR, which a renewal proof signs. */
  der: Buffer;
}

const bad = (why: string) => new MeshError('MESH_ERR_CSR_INVALID', `the CSR ${why}`);

export async function readCsr(pem: unknown): Promise<ReadCsr> {
  if (typeof pem !== 'string' || pem.length === 0) throw bad('is missing: send "csr" as a PEM string (-----BEGIN CERTIFICATE REQUEST-----)');
  if (pem.length > MAX_CSR_BYTES) throw bad(`is larger than ${MAX_CSR_BYTES} bytes`);
  if (!/^\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(pem)) throw bad('is not PEM (expected -----BEGIN CERTIFICATE REQUEST-----)');
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem.replace(/NEW CERTIFICATE REQUEST/g, 'CERTIFICATE REQUEST'));
  } catch (err) {
    throw bad(`cannot be parsed: ${(err as Error).message}`);
  }
  let verified = false;
  try { verified = await csr.verify(); } catch { verified = false; }
  if (!verified) throw bad('signature does not verify (it must be signed by the key it carries)');
  const publicKeyDer = Buffer.from(csr.publicKey.rawData);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: publicKeyDer, format: 'der', type: 'spki' });
  } catch (err) {
    throw bad(`public key cannot be read: ${(err as Error).message}`);
  }
  checkKeyStrength(publicKey);
  const requestedUris: string[] = [];
  for (const ext of csr.extensions) {
    if (ext.type !== '2.5.29.17') continue;
    const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
    for (const n of san.names.items) if (n.type === 'url') requestedUris.push(n.value);
  }
  return { publicKey, publicKeyDer, requestedUris, der: Buffer.from(csr.rawData) };
}

function checkKeyStrength(key: KeyObject): void {
  const type = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (type === 'ec' && (d.namedCurve === 'prime256v1' || d.namedCurve === 'secp384r1')) return;
  if (type === 'rsa' && (d.modulusLength ?? 0) >= 2048) return;
  throw bad(`key (${type}${d.namedCurve ? ` ${d.namedCurve}` : d.modulusLength ? ` ${d.modulusLength} bits` : ''}) is not accepted: use EC P-256, P-384 or RSA of at least 2048 bits`);
}
