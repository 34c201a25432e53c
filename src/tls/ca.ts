// The mesh root CA: one key pair that signs every service certificate. Created by `mesh certs ca init` into a
// directory holding ca.pem (0644), ca-key.pem (0600) and ca.json (the trust domain the CA issues identities in).
// The certificate names its trust domain too (URI SAN spiffe://<trust-domain>, as SPIRE's CAs do), so a
// sidecar that has only ca.pem can tell a certificate of another trust domain from one of its own.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MeshError } from '../core/errors.js';
import { validateTrustDomain } from './spiffe.js';
import { assertPrivateKeyFile, CERT_MODE, KEY_MODE, parsePrivateKey, readCertificates, readTextFile, writeFilesAtomic } from './files.js';

export type KeyType = 'ec' | 'rsa';

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';
export const CA_META_FILE = 'ca.json';
export const DEFAULT_CA_DIR = 'mesh-ca';
export const DEFAULT_TRUST_DOMAIN = 'mesh.local';
export const DEFAULT_CA_DAYS = 3650;

export interface CaInitOptions {
  dir: string;
  trustDomain: string;
  days: number;
  keyType: KeyType;
  force: boolean;
  now?: Date;
  /** Appended to the subject's CN: a rotation's new root must not share its subject with the old one, or
   *  verifiers (which find issuers by subject name) may try the wrong root's key. */
  nameSuffix?: string;
}

export interface CaMeta { trustDomain: string; keyType: KeyType; createdAt: string }

export interface CaResult {
  dir: string;
  certPath: string;
  keyPath: string;
  metaPath: string;
  trustDomain: string;
  keyType: KeyType;
  subject: string;
  notBefore: string;
  notAfter: string;
  fingerprintSha256: string;
}

export function caPaths(dir: string): { certPath: string; keyPath: string; metaPath: string } {
  return { certPath: join(dir, CA_CERT_FILE), keyPath: join(dir, CA_KEY_FILE), metaPath: join(dir, CA_META_FILE) };
}

export async function initCa(opts: CaInitOptions): Promise<CaResult> {
  const dir = resolve(opts.dir);
  const trustDomain = validateTrustDomain(opts.trustDomain);
  const { certPath, keyPath, metaPath } = caPaths(dir);
  if (!opts.force && (existsSync(certPath) || existsSync(keyPath))) {
    throw new MeshError('MESH_ERR_CA_EXISTS', `a CA already exists in ${dir}; refusing to overwrite it (every certificate it issued would stop verifying)`);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new MeshError('MESH_ERR_TLS', `cannot create CA directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const now = opts.now ?? new Date();
  const notAfter = new Date(now.getTime() + opts.days * 86_400_000);
  const pems = await (await loadSelfsigned()).generate(
    [{ name: 'commonName', value: `mesh root CA (${trustDomain})${opts.nameSuffix ? ` ${opts.nameSuffix}` : ''}` }, { name: 'organizationName', value: 'mesh' }],
    {
      keyType: opts.keyType,
      ...(opts.keyType === 'ec' ? { curve: 'P-256' as const } : { keySize: 2048 }),
      algorithm: 'sha256', // selfsigned defaults to SHA-1
      notBeforeDate: now,
      notAfterDate: notAfter,
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        { name: 'subjectAltName', altNames: [{ type: 6, value: `spiffe://${trustDomain}` }] },
      ],
    },
  );
  const meta: CaMeta = { trustDomain, keyType: opts.keyType, createdAt: now.toISOString() };
  writeFilesAtomic([
    { path: keyPath, data: pems.private, mode: KEY_MODE },
    { path: certPath, data: pems.cert, mode: CERT_MODE },
    { path: metaPath, data: `${JSON.stringify(meta, null, 2)}\n`, mode: CERT_MODE },
  ]);
  const x509 = new X509Certificate(pems.cert);
  return {
    dir, certPath, keyPath, metaPath, trustDomain, keyType: opts.keyType,
    subject: x509.subject.replace(/\n/g, ', '),
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
    fingerprintSha256: x509.fingerprint256,
  };
}

export interface LoadedCa {
  dir: string;
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  key: KeyObject;
  trustDomain: string;
  keyType: KeyType;
  /** The EC curve as Web Crypto names it ("P-256"), for EC CAs. */
  curve?: 'P-256' | 'P-384' | 'P-521';
}

const CURVES: Record<string, 'P-256' | 'P-384' | 'P-521'> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Loads and checks a CA directory: files present, key private (0600) and matching the certificate, a CA cert. */
export function loadCa(dirArg: string): LoadedCa {
  const dir = resolve(dirArg);
  const { certPath, keyPath, metaPath } = caPaths(dir);
  if (!existsSync(certPath) && !existsSync(keyPath)) {
    throw new MeshError('MESH_ERR_TLS', `no mesh CA in ${dir}`, { hint: `create one with \`mesh certs ca init --dir ${dirArg}\` or pass --ca-dir` });
  }
  const [cert] = readCertificates(certPath, 'CA certificate');
  assertPrivateKeyFile(keyPath, 'CA key');
  const keyPem = readTextFile(keyPath, 'CA key');
  const key = parsePrivateKey(keyPem, keyPath, 'CA key');
  if (!cert!.ca) throw new MeshError('MESH_ERR_TLS', `"${certPath}" is not a CA certificate (basicConstraints CA:TRUE is missing)`);
  if (!cert!.checkPrivateKey(key)) throw new MeshError('MESH_ERR_TLS', `CA key "${keyPath}" does not match CA certificate "${certPath}"`);
  let meta: Partial<CaMeta> = {};
  try {
    meta = JSON.parse(readTextFile(metaPath, 'CA metadata')) as Partial<CaMeta>;
  } catch (err) {
    if (err instanceof SyntaxError) throw new MeshError('MESH_ERR_TLS', `CA metadata "${metaPath}" is not valid JSON`);
    throw err;
  }
  const trustDomain = validateTrustDomain(meta.trustDomain);
  const keyType = key.asymmetricKeyType === 'ec' ? 'ec' : key.asymmetricKeyType === 'rsa' ? 'rsa' : null;
  if (!keyType) throw new MeshError('MESH_ERR_TLS', `CA key "${keyPath}" is a ${key.asymmetricKeyType} key; mesh supports EC and RSA`);
  const curveName = key.asymmetricKeyDetails?.namedCurve;
  const curve = curveName ? CURVES[curveName] : undefined;
  if (keyType === 'ec' && !curve) throw new MeshError('MESH_ERR_TLS', `CA key "${keyPath}" uses curve ${curveName}; use P-256, P-384 or P-521`);
  return { dir, certPem: cert!.toString(), keyPem, cert: cert!, key, trustDomain, keyType, ...(curve ? { curve } : {}) };
}

/** selfsigned (and the X.509 stack under it) loads on first issuance only: proxies and most commands never issue. */
function loadSelfsigned(): Promise<typeof import('selfsigned')> {
  return import('selfsigned');
}
