// SPIFFE identities: spiffe://<trust-domain>/service/<service>. A peer is who its certificate's single URI SAN
// says it is; host names play no part in mesh identity. What else a certificate must be to count as an
// identity (an end-entity certificate in the mesh's trust domain, with fitting key usages) is peer-identity.ts.
import type { PeerCertificate } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { ValidationError } from '../core/errors.js';

const TRUST_DOMAIN = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

export interface SpiffeId {
  trustDomain: string;
  /** The path after the trust domain, with its leading slash ("/service/orders"). */
  path: string;
  /** The service name when the path is /service/<name>, else null. */
  service: string | null;
}

export function validateTrustDomain(td: unknown): string {
  if (typeof td !== 'string' || td.length === 0 || td.length > 255 || !TRUST_DOMAIN.test(td)) {
    throw new ValidationError('trust-domain', `invalid trust domain "${String(td)}": use lowercase letters, digits, '.', '-' and '_', e.g. mesh.local`);
  }
  return td;
}

export function formatServiceId(trustDomain: string, service: string): string {
  return `spiffe://${trustDomain}/service/${service}`;
}

/** Parses a SPIFFE ID strictly (per the SPIFFE ID spec: no port, user info, query, fragment, or dot segments). */
export function parseSpiffeId(text: string): SpiffeId {
  const bad = (why: string) => new ValidationError('spiffe-id', `invalid SPIFFE ID "${text}": ${why}`);
  if (!text.startsWith('spiffe://')) throw bad('it must start with spiffe://');
  const rest = text.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (!TRUST_DOMAIN.test(trustDomain)) throw bad('the trust domain must be lowercase letters, digits, ".", "-" or "_"');
  if (path !== '') {
    const segments = path.slice(1).split('/');
    for (const seg of segments) {
      if (seg === '' || seg === '.' || seg === '..' || !PATH_SEGMENT.test(seg)) throw bad(`bad path segment "${seg}"`);
    }
  }
  const m = /^\/service\/([^/]+)$/.exec(path);
  return { trustDomain, path, service: m ? m[1]! : null };
}

/**
 * Splits Node's subjectAltName string ("DNS:a, URI:spiffe://x/y, IP Address:1.2.3.4"). Since Node 17.3 an entry
 * with special characters is written JSON-quoted (URI:"a,b"), so commas inside quotes do not split.
 */
export function splitAltNames(altNames: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  if (!altNames) return out;
  let i = 0;
  while (i < altNames.length) {
    const colon = altNames.indexOf(':', i);
    if (colon < 0) break;
    const type = altNames.slice(i, colon).trim();
    let value: string;
    let next: number;
    if (altNames[colon + 1] === '"') {
      let j = colon + 2;
      while (j < altNames.length && altNames[j] !== '"') j += altNames[j] === '\\' ? 2 : 1;
      value = JSON.parse(altNames.slice(colon + 1, j + 1)) as string;
      next = altNames.indexOf(',', j + 1);
    } else {
      next = altNames.indexOf(', ', colon + 1);
      value = altNames.slice(colon + 1, next < 0 ? undefined : next);
    }
    out.push({ type, value });
    if (next < 0) break;
    i = next + 1;
    while (altNames[i] === ' ') i++;
  }
  return out;
}

/**
 * The SPIFFE ID a certificate carries, or null when it has none. A certificate with more than one URI SAN has
 * no single identity (the SPIFFE X.509 spec allows exactly one) and also yields null.
 */
export function spiffeIdOf(cert: Pick<PeerCertificate, 'subjectaltname'> | Pick<X509Certificate, 'subjectAltName'> | null | undefined): string | null {
  if (!cert) return null;
  const text = 'subjectaltname' in cert ? cert.subjectaltname : (cert as X509Certificate).subjectAltName;
  const uris = splitAltNames(text).filter((e) => e.type === 'URI');
  if (uris.length !== 1 || !uris[0]!.value.startsWith('spiffe://')) return null;
  try {
    parseSpiffeId(uris[0]!.value);
  } catch {
    return null;
  }
  return uris[0]!.value;
}

/**
 * The trust domain a CA certificate issues identities in: its spiffe://<trust-domain> URI SAN (what
 * `mesh certs ca init` writes, as SPIRE does), else the "(<trust-domain>)" that ends the common name of a CA
 * made by an older mesh ("mesh root CA (mesh.local)"); null for a CA that names none.
 */
export function trustDomainOfCa(ca: X509Certificate): string | null {
  for (const { type, value } of splitAltNames(ca.subjectAltName)) {
    if (type !== 'URI' || !value.startsWith('spiffe://')) continue;
    try {
      const id = parseSpiffeId(value);
      if (id.path === '') return id.trustDomain;
    } catch { /* not a trust domain ID: look further */ }
  }
  const cn = /^CN=mesh root CA \(([^)\n]+)\)$/m.exec(ca.subject);
  return cn !== null && TRUST_DOMAIN.test(cn[1]!) ? cn[1]! : null;
}
