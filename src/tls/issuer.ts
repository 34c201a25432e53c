// Issuer certificates: an intermediate CA signed by the offline root, which a registry daemon uses to sign the
// mesh's short-lived leaves (as linkerd's identity controller uses its issuer, and Consul's Connect CA its
// intermediate). Created by `mesh certs ca issuer` into a directory holding issuer.pem (0644), issuer-key.pem
// (0600), roots.pem (the trust bundle the registry hands out, 0644) and issuer.json (the trust domain).
// The issuer is CA:TRUE with pathlen 0 (it signs leaves only) and name-constrained to spiffe://<trust-domain>.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MeshError } from '../core/errors.js';
import type { LoadedCa } from './ca.js';
import { assertPrivateKeyFile, CERT_MODE, KEY_MODE, parsePrivateKey, readCertificates, readTextFile, writeFilesAtomic } from './files.js';
import { validateTrustDomain } from './spiffe.js';

export const ISSUER_CERT_FILE = 'issuer.pem';
export const ISSUER_KEY_FILE = 'issuer-key.pem';
export const ROOTS_FILE = 'roots.pem';
export const ISSUER_META_FILE = 'issuer.json';
export const DEFAULT_ISSUER_DAYS = 365;

export interface IssuerPaths { certPath: string; keyPath: string; rootsPath: string; metaPath: string }

export function issuerPaths(dir: string): IssuerPaths {
  return { certPath: join(dir, ISSUER_CERT_FILE), keyPath: join(dir, ISSUER_KEY_FILE), rootsPath: join(dir, ROOTS_FILE), metaPath: join(dir, ISSUER_META_FILE) };
}

export interface IssuerResult extends IssuerPaths {
  dir: string;
  trustDomain: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  /** Set when the requested lifetime was cut to end with the root's. */
  clampedToRoot: boolean;
  fingerprintSha256: string;
}

export interface CreateIssuerOptions { out: string; days: number; force: boolean; now?: Date }

/** Signs a new issuer (fresh EC P-256 key) with the root CA and writes it, with the root as roots.pem. */
export async function createIssuer(root: LoadedCa, opts: CreateIssuerOptions): Promise<IssuerResult> {
  const dir = resolve(opts.out);
  const paths = issuerPaths(dir);
  if (!opts.force && (existsSync(paths.certPath) || existsSync(paths.keyPath))) {
    throw new MeshError('MESH_ERR_CA_EXISTS', `an issuer already exists in ${dir}; refusing to overwrite it`, { hint: 'pass --force to replace it, or choose another --out' });
  }
  const now = opts.now ?? new Date();
  const rootNotAfter = new Date(root.cert.validTo);
  if (rootNotAfter <= now) throw new MeshError('MESH_ERR_TLS', `the root CA in ${root.dir} expired on ${rootNotAfter.toISOString()}`);
  let notAfter = new Date(now.getTime() + opts.days * 86_400_000);
  const clampedToRoot = notAfter > rootNotAfter;
  if (clampedToRoot) notAfter = rootNotAfter;
  const { x509, importSigningKey, generateP256, privateKeyPem, randomSerial, spiffeNameConstraints } = await import('./x509-sign.js');
  const signer = await importSigningKey(root.key);
  const keys = await generateP256();
  const rootCert = new x509.X509Certificate(root.certPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=mesh issuer (${root.trustDomain}) ${randomSerial().slice(0, 8)}, O=mesh`,
    issuer: rootCert.subjectName,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      spiffeNameConstraints(root.trustDomain),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootCert.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  mkdirPrivate(dir);
  writeFilesAtomic([
    { path: paths.keyPath, data: await privateKeyPem(keys.privateKey), mode: KEY_MODE },
    { path: paths.certPath, data: `${certPem}\n`, mode: CERT_MODE },
    // Replacing an issuer (a root rotation's second step) keeps the roots its bundle already trusts.
    { path: paths.rootsPath, data: [root.certPem, ...existingRoots(dir).filter((pem) => new X509Certificate(pem).fingerprint256 !== root.cert.fingerprint256)].join(''), mode: CERT_MODE },
    { path: paths.metaPath, data: `${JSON.stringify({ trustDomain: root.trustDomain, createdAt: now.toISOString() }, null, 2)}\n`, mode: CERT_MODE },
  ]);
  const x = new X509Certificate(certPem);
  return {
    dir, ...paths, trustDomain: root.trustDomain, subject: x.subject.replace(/\n/g, ', '),
    notBefore: new Date(x.validFrom).toISOString(), notAfter: new Date(x.validTo).toISOString(), clampedToRoot, fingerprintSha256: x.fingerprint256,
  };
}

/** The roots already trusted in an issuer directory (empty when there is none yet), for `ca issuer --force`. */
export function existingRoots(dir: string): string[] {
  try {
    return readCertificates(issuerPaths(dir).rootsPath, 'trust bundle').map((c) => c.toString());
  } catch {
    return [];
  }
}

function mkdirPrivate(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new MeshError('MESH_ERR_TLS', `cannot create issuer directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

export interface LoadedIssuer {
  dir: string;
  cert: X509Certificate;
  certPem: string;
  key: KeyObject;
  keyPem: string;
  /** The trust bundle: every root a leaf of this mesh may chain to (more than one during a root rotation). */
  roots: X509Certificate[];
  rootsPem: string;
  trustDomain: string;
}

/**
 * Loads and checks an issuer directory. The directory and key must not be accessible to group or others: the
 * issuer key mints every identity in the mesh, so a loose one is refused (as for the root CA key), not warned
 * about. The issuer must be a CA, match its key, chain to one of roots.pem and be inside its validity window.
 */
export function loadIssuer(dirArg: string, now = Date.now()): LoadedIssuer {
  const dir = resolve(dirArg);
  const paths = issuerPaths(dir);
  let mode: number;
  try {
    mode = statSync(dir).mode;
  } catch {
    throw new MeshError('MESH_ERR_TLS', `no issuer directory ${dir}`, { hint: 'create one with `mesh certs ca issuer --ca-dir <root CA dir> --out <dir>`' });
  }
  if ((mode & 0o077) !== 0) {
    throw new MeshError('MESH_ERR_TLS', `issuer directory ${dir} is accessible to group or others (mode ${(mode & 0o777).toString(8)}); refusing to use it`, { hint: `run: chmod 700 ${dir}` });
  }
  const [cert] = readCertificates(paths.certPath, 'issuer certificate');
  assertPrivateKeyFile(paths.keyPath, 'issuer key');
  const keyPem = readTextFile(paths.keyPath, 'issuer key');
  const key = parsePrivateKey(keyPem, paths.keyPath, 'issuer key');
  const roots = readCertificates(paths.rootsPath, 'trust bundle');
  if (!cert!.ca) throw new MeshError('MESH_ERR_TLS', `"${paths.certPath}" is not a CA certificate (basicConstraints CA:TRUE is missing)`);
  if (!cert!.checkPrivateKey(key)) throw new MeshError('MESH_ERR_TLS', `issuer key "${paths.keyPath}" does not match "${paths.certPath}"`);
  if (!roots.some((r) => cert!.checkIssued(r) && cert!.verify(r.publicKey))) {
    throw new MeshError('MESH_ERR_TLS', `issuer "${paths.certPath}" was not signed by a root in "${paths.rootsPath}"`, { hint: 'create the issuer again with `mesh certs ca issuer`' });
  }
  const notAfter = new Date(cert!.validTo);
  if (notAfter.getTime() <= now) throw new MeshError('MESH_ERR_TLS', `issuer "${paths.certPath}" expired on ${notAfter.toISOString()}`, { hint: 'create a new one with `mesh certs ca issuer --force`' });
  let meta: { trustDomain?: unknown };
  try {
    meta = JSON.parse(readTextFile(paths.metaPath, 'issuer metadata')) as { trustDomain?: unknown };
  } catch (err) {
    if (err instanceof SyntaxError) throw new MeshError('MESH_ERR_TLS', `issuer metadata "${paths.metaPath}" is not valid JSON`);
    throw err;
  }
  return {
    dir, cert: cert!, certPem: cert!.toString(), key, keyPem, roots,
    rootsPem: roots.map((r) => r.toString()).join(''), trustDomain: validateTrustDomain(meta.trustDomain),
  };
}
