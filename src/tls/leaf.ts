// Service certificates: a short-lived leaf signed by the mesh CA whose URI SAN is the service's SPIFFE ID, usable
// both as a server (inbound sidecar) and a client (outbound proxy, `mesh curl --as`). Also plain self-signed
// certificates for local TLS without a mesh CA (`mesh certs gen --self-signed`).
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MeshError, ValidationError } from '../core/errors.js';
import { validateServiceName } from '../core/validate.js';
import type { KeyType, LoadedCa } from './ca.js';
import { CERT_MODE, KEY_MODE, writeFilesAtomic } from './files.js';
import { formatServiceId } from './spiffe.js';

export const DEFAULT_LEAF_LIFETIME_MS = 24 * 3_600_000;
/** Leaves start a minute in the past so a peer whose clock is slightly behind does not see "not yet valid". */
export const BACKDATE_MS = 60_000;

const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;

export interface LeafOptions {
  service: string;
  lifetimeMs: number;
  /** Extra DNS and IP SANs; the defaults (service name, localhost, 127.0.0.1, ::1) are always included. */
  dns: string[];
  ip: string[];
  /** For tests: an explicit validity window (e.g. an expired certificate). */
  notBefore?: Date;
  notAfter?: Date;
  now?: Date;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  spiffeId: string | null;
  dns: string[];
  ip: string[];
  notBefore: string;
  notAfter: string;
  /** Set when the requested lifetime was cut to end with the CA's. */
  clampedToCa: boolean;
}

export function validateDnsName(name: string): string {
  if (name.length > 253 || !DNS_NAME.test(name)) throw new ValidationError('dns', `invalid DNS name "${name}": use a host name such as orders.internal`);
  return name.toLowerCase();
}

export function validateIp(ip: string): string {
  if (isIP(ip) === 0) throw new ValidationError('ip', `invalid IP address "${ip}": use an IPv4 or IPv6 address such as 127.0.0.1`);
  return ip;
}

function sans(service: string, dns: string[], ip: string[]): { dns: string[]; ip: string[] } {
  return {
    dns: [...new Set([service, 'localhost', ...dns.map(validateDnsName)])],
    ip: [...new Set(['127.0.0.1', '::1', ...ip.map(validateIp)])],
  };
}

function window(opts: LeafOptions, caNotAfter?: Date): { notBefore: Date; notAfter: Date; clamped: boolean } {
  const now = opts.now ?? new Date();
  const notBefore = opts.notBefore ?? new Date(now.getTime() - BACKDATE_MS);
  let notAfter = opts.notAfter ?? new Date(now.getTime() + opts.lifetimeMs);
  let clamped = false;
  if (caNotAfter && notAfter > caNotAfter && !opts.notAfter) { notAfter = caNotAfter; clamped = true; }
  return { notBefore, notAfter, clamped };
}

/** Issues a leaf for `service` signed by the mesh CA; the key type (and curve) follow the CA's. */
export async function issueLeaf(ca: LoadedCa, opts: LeafOptions): Promise<IssuedCert> {
  const service = validateServiceName(opts.service);
  const caNotAfter = new Date(ca.cert.validTo);
  if (caNotAfter.getTime() <= (opts.now ?? new Date()).getTime() && !opts.notAfter) {
    throw new MeshError('MESH_ERR_TLS', `the mesh CA in ${ca.dir} expired on ${caNotAfter.toISOString()}`, { hint: 'create a new CA with `mesh certs ca init --force` and re-issue every certificate' });
  }
  const names = sans(service, opts.dns, opts.ip);
  const w = window(opts, caNotAfter);
  const spiffeId = formatServiceId(ca.trustDomain, service);
  const pems = await (await loadSelfsigned()).generate([{ name: 'commonName', value: service }, { name: 'organizationName', value: 'mesh' }], {
    keyType: ca.keyType,
    ...(ca.keyType === 'ec' ? { curve: ca.curve ?? 'P-256' } : { keySize: 2048 }),
    algorithm: 'sha256',
    notBeforeDate: w.notBefore,
    notAfterDate: w.notAfter,
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: ca.keyType === 'rsa', critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [{ type: 6, value: spiffeId }, ...names.dns.map((value) => ({ type: 2 as const, value })), ...names.ip.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });
  return finish(pems, spiffeId, names, w.clamped);
}

/** A self-signed server certificate for plain local TLS (no mesh CA, no SPIFFE ID). */
export async function issueSelfSigned(opts: LeafOptions & { keyType: KeyType }): Promise<IssuedCert> {
  const service = validateServiceName(opts.service);
  const names = sans(service, opts.dns, opts.ip);
  const w = window(opts);
  const pems = await (await loadSelfsigned()).generate([{ name: 'commonName', value: service }], {
    keyType: opts.keyType,
    ...(opts.keyType === 'ec' ? { curve: 'P-256' as const } : { keySize: 2048 }),
    algorithm: 'sha256',
    notBeforeDate: w.notBefore,
    notAfterDate: w.notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: opts.keyType === 'rsa', critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...names.dns.map((value) => ({ type: 2 as const, value })), ...names.ip.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  return finish(pems, null, names, false);
}

function finish(pems: { cert: string; private: string }, spiffeId: string | null, names: { dns: string[]; ip: string[] }, clampedToCa: boolean): IssuedCert {
  const x = new X509Certificate(pems.cert);
  return {
    certPem: pems.cert, keyPem: pems.private, spiffeId, dns: names.dns, ip: names.ip,
    notBefore: new Date(x.validFrom).toISOString(), notAfter: new Date(x.validTo).toISOString(), clampedToCa,
  };
}

export interface WrittenCert { certPath: string; keyPath: string }

/** Writes <out>/<service>.pem (0644) and <out>/<service>-key.pem (0600), each atomically (rotation-safe). */
export function writeLeaf(outDir: string, service: string, issued: IssuedCert): WrittenCert {
  const dir = resolve(outDir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new MeshError('MESH_ERR_TLS', `cannot create output directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const certPath = join(dir, `${service}.pem`);
  const keyPath = join(dir, `${service}-key.pem`);
  writeFilesAtomic([{ path: keyPath, data: issued.keyPem, mode: KEY_MODE }, { path: certPath, data: issued.certPem, mode: CERT_MODE }]);
  return { certPath, keyPath };
}

/** selfsigned (and the X.509 stack under it) loads on first issuance only: proxies and most commands never issue. */
function loadSelfsigned(): Promise<typeof import('selfsigned')> {
  return import('selfsigned');
}
