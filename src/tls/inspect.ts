// What a certificate says, as one plain value that both the table and --json render: names, identity, validity,
// key and usages. Node's X509Certificate gives the basics; @peculiar/x509 decodes the extensions (no hand ASN.1).
import { X509Certificate as NodeX509 } from 'node:crypto';
import * as px from '@peculiar/x509';
import { readCertificates } from './files.js';
import { spiffeIdOf } from './spiffe.js';

export type CertStatus = 'valid' | 'expiring' | 'expired' | 'not-yet-valid';

export interface CertReport {
  file: string;
  /** Certificates after the first in the file (a chain); only the first is described. */
  moreInFile: number;
  kind: 'ca' | 'leaf';
  selfSigned: boolean;
  subject: string;
  issuer: string;
  serial: string;
  spiffeId: string | null;
  sans: { dns: string[]; ip: string[]; uri: string[]; email: string[] };
  notBefore: string;
  notAfter: string;
  lifetimeSeconds: number;
  remainingSeconds: number;
  status: CertStatus;
  key: { type: string; curve?: string; bits?: number };
  signatureAlgorithm: string;
  keyUsage: string[];
  extKeyUsage: string[];
  fingerprintSha256: string;
  warnings: string[];
}

const KEY_USAGE_NAMES: [px.KeyUsageFlags, string][] = [
  [px.KeyUsageFlags.digitalSignature, 'digitalSignature'], [px.KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
  [px.KeyUsageFlags.keyEncipherment, 'keyEncipherment'], [px.KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [px.KeyUsageFlags.keyAgreement, 'keyAgreement'], [px.KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [px.KeyUsageFlags.cRLSign, 'cRLSign'], [px.KeyUsageFlags.encipherOnly, 'encipherOnly'], [px.KeyUsageFlags.decipherOnly, 'decipherOnly'],
];
const EKU_NAMES: Record<string, string> = Object.fromEntries(Object.entries(px.ExtendedKeyUsage).map(([name, oid]) => [oid, name]));
const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Reads the first certificate of a PEM file and describes it as of `now`. */
export function inspectCertificateFile(file: string, now: number = Date.now()): CertReport {
  const certs = readCertificates(file);
  return describeCertificate(certs[0]!, file, now, certs.length - 1);
}

export function describeCertificate(cert: NodeX509, file: string, now: number, moreInFile = 0): CertReport {
  const p = new px.X509Certificate(cert.raw);
  const sans: CertReport['sans'] = { dns: [], ip: [], uri: [], email: [] };
  const san = p.getExtension(px.SubjectAlternativeNameExtension);
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns') sans.dns.push(n.value);
    else if (n.type === 'ip') sans.ip.push(n.value);
    else if (n.type === 'url') sans.uri.push(n.value);
    else if (n.type === 'email') sans.email.push(n.value);
  }
  const ku = p.getExtension(px.KeyUsagesExtension);
  const keyUsage = ku ? KEY_USAGE_NAMES.filter(([flag]) => (ku.usages & flag) !== 0).map(([, name]) => name) : [];
  const eku = p.getExtension(px.ExtendedKeyUsageExtension);
  const extKeyUsage = Array.from(eku?.usages ?? [], (oid) => EKU_NAMES[String(oid)] ?? String(oid));
  const notBefore = new Date(cert.validFrom).getTime();
  const notAfter = new Date(cert.validTo).getTime();
  const lifetime = notAfter - notBefore;
  const remaining = notAfter - now;
  const status: CertStatus = now < notBefore ? 'not-yet-valid' : remaining <= 0 ? 'expired' : remaining < lifetime / 3 ? 'expiring' : 'valid';
  const details = cert.publicKey.asymmetricKeyDetails ?? {};
  const keyType = cert.publicKey.asymmetricKeyType ?? 'unknown';
  const key: CertReport['key'] = { type: keyType };
  if (details.namedCurve) key.curve = CURVE_NAMES[details.namedCurve] ?? details.namedCurve;
  if (details.modulusLength) key.bits = details.modulusLength;
  const spiffeId = spiffeIdOf(cert);
  const warnings: string[] = [];
  if (status === 'expired') warnings.push(`expired ${new Date(notAfter).toISOString()}`);
  if (status === 'not-yet-valid') warnings.push(`not valid before ${new Date(notBefore).toISOString()}`);
  if (status === 'expiring') warnings.push(`less than a third of its lifetime is left (${formatSeconds(remaining / 1000)} of ${formatSeconds(lifetime / 1000)}): rotate it with \`mesh certs gen\``);
  if (sans.uri.length > 1) warnings.push('more than one URI SAN: mesh sees no SPIFFE identity in it');
  if (/SHA-1$/.test(signatureName(p))) warnings.push('signed with SHA-1, which TLS peers may refuse');
  return {
    file, moreInFile,
    kind: cert.ca ? 'ca' : 'leaf',
    selfSigned: cert.subject === cert.issuer && cert.verify(cert.publicKey),
    subject: cert.subject.split('\n').join(', '),
    issuer: cert.issuer.split('\n').join(', '),
    serial: cert.serialNumber.toLowerCase(),
    spiffeId, sans,
    notBefore: new Date(notBefore).toISOString(),
    notAfter: new Date(notAfter).toISOString(),
    lifetimeSeconds: Math.round(lifetime / 1000),
    remainingSeconds: Math.round(remaining / 1000),
    status, key,
    signatureAlgorithm: signatureName(p),
    keyUsage, extKeyUsage,
    fingerprintSha256: cert.fingerprint256,
    warnings,
  };
}

function signatureName(p: px.X509Certificate): string {
  const alg = p.signatureAlgorithm as { name?: string; hash?: { name?: string } };
  const name = alg.name ?? 'unknown';
  return alg.hash?.name ? `${name} ${alg.hash.name}` : name;
}

/** "23h59m", "3d4h", "-2h" (expired): coarse enough to read at a glance. */
export function formatSeconds(seconds: number): string {
  const sign = seconds < 0 ? '-' : '';
  let s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86_400); s -= d * 86_400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d >= 2) return `${sign}${d}d${h}h`;
  if (d > 0) return `${sign}${d * 24 + h}h${m}m`; // a 24 h certificate reads as "24h0m", not "1d0h"
  if (h > 0) return `${sign}${h}h${m}m`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}
