// What makes a certificate a mesh identity, decided in one place for every side that asks: the outbound
// proxy about a server, the inbound sidecar about a caller (HTTP/1.1 and h2), a sidecar about its own
// certificate at start and on rotation, and `mesh check`. Chain verification (the mesh CA, validity window)
// stays with OpenSSL; this adds what a CA-signed certificate must also be (the SPIFFE X.509-SVID rules):
//   - an end-entity certificate: basicConstraints CA:TRUE is refused, whatever SPIFFE ID it carries;
//   - exactly one URI SAN, a valid SPIFFE ID, in the mesh's trust domain (and the expected one, when asked);
//   - keyUsage, when present, includes digitalSignature and not keyCertSign or cRLSign;
//   - extKeyUsage, when present, allows each use asked for (serverAuth, clientAuth), as OpenSSL reads it.
// Each refusal has a stable code (metric labels) and a reason (logs, errors, `mesh check`).
import type { PeerCertificate } from 'node:tls';
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH, readCertExtensions, type CertExtensions } from './cert-extensions.js';
import { parseSpiffeId } from './spiffe.js';

export type IdentityRole = 'server' | 'client';

export interface IdentityRules {
  /** The mesh's trust domain; undefined only where it cannot be known (`mesh check` without --ca-dir). */
  trustDomain: string | undefined;
  /** What the certificate is used for here; each must be allowed by its extKeyUsage. */
  roles: readonly IdentityRole[];
  /** Exactly this SPIFFE ID, when one service is expected (an outbound call). */
  expected?: string;
}

export type IdentityRefusal =
  | 'IDENTITY_CA_CERTIFICATE'
  | 'IDENTITY_NO_SPIFFE_ID'
  | 'IDENTITY_SEVERAL_URI_SANS'
  | 'IDENTITY_BAD_SPIFFE_ID'
  | 'IDENTITY_FOREIGN_TRUST_DOMAIN'
  | 'IDENTITY_MISMATCH'
  | 'IDENTITY_KEY_USAGE'
  | 'IDENTITY_EXT_KEY_USAGE'
  | 'IDENTITY_UNREADABLE';

export type IdentityVerdict =
  | { ok: true; id: string; trustDomain: string; service: string | null }
  | { ok: false; code: IdentityRefusal; reason: string };

const EKU_OF: Record<IdentityRole, { oid: string; name: string; use: string }> = {
  server: { oid: EKU_SERVER_AUTH, name: 'serverAuth', use: 'a TLS server' },
  client: { oid: EKU_CLIENT_AUTH, name: 'clientAuth', use: 'a TLS client' },
};
const EKU_NAMES: Record<string, string> = { [EKU_SERVER_AUTH]: 'serverAuth', [EKU_CLIENT_AUTH]: 'clientAuth' };

/** Decides whether a DER certificate (X509Certificate.raw, PeerCertificate.raw) is a mesh identity under `rules`. */
export function checkIdentity(der: Uint8Array, rules: IdentityRules): IdentityVerdict {
  let ext: CertExtensions;
  try {
    ext = readCertExtensions(der);
  } catch (err) {
    return refuse('IDENTITY_UNREADABLE', `its extensions cannot be read (${(err as Error).message})`);
  }
  return judge(ext, rules);
}

/** The rules applied to already-decoded extensions (what checkIdentity does after reading the DER). */
export function judge(ext: CertExtensions, rules: IdentityRules): IdentityVerdict {
  if (ext.ca) return refuse('IDENTITY_CA_CERTIFICATE', 'it is a CA certificate (basicConstraints CA:TRUE), not an end-entity certificate');
  if (ext.uris.length === 0) return refuse('IDENTITY_NO_SPIFFE_ID', 'it carries no SPIFFE ID (no URI SAN)');
  if (ext.uris.length > 1) {
    return refuse('IDENTITY_SEVERAL_URI_SANS', `it carries ${ext.uris.length} URI SANs (${ext.uris.join(', ')}); a mesh identity has exactly one`);
  }
  const id = ext.uris[0]!;
  let trustDomain: string;
  let service: string | null;
  try {
    ({ trustDomain, service } = parseSpiffeId(id));
  } catch (err) {
    return refuse('IDENTITY_BAD_SPIFFE_ID', `its URI SAN is not a valid SPIFFE ID (${(err as Error).message})`);
  }
  if (rules.trustDomain !== undefined && trustDomain !== rules.trustDomain) {
    return refuse('IDENTITY_FOREIGN_TRUST_DOMAIN', `its SPIFFE ID ${id} is in trust domain ${trustDomain}, not the mesh's ${rules.trustDomain}`);
  }
  if (rules.expected !== undefined && id !== rules.expected) return refuse('IDENTITY_MISMATCH', `it is ${id}, not the expected ${rules.expected}`);
  if (ext.keyUsage !== null) {
    if (!ext.keyUsage.includes('digitalSignature')) {
      return refuse('IDENTITY_KEY_USAGE', `its keyUsage (${ext.keyUsage.join(', ') || 'empty'}) lacks digitalSignature`);
    }
    const signing = ext.keyUsage.filter((u) => u === 'keyCertSign' || u === 'cRLSign');
    if (signing.length > 0) return refuse('IDENTITY_KEY_USAGE', `its keyUsage allows ${signing.join(' and ')}, which only a CA may have`);
  }
  if (ext.extKeyUsage !== null) {
    for (const role of rules.roles) {
      const need = EKU_OF[role];
      if (!ext.extKeyUsage.includes(need.oid)) {
        const has = ext.extKeyUsage.map((o) => EKU_NAMES[o] ?? o).join(', ') || 'empty';
        return refuse('IDENTITY_EXT_KEY_USAGE', `its extKeyUsage (${has}) lacks ${need.name}, which ${need.use} needs`);
      }
    }
  }
  return { ok: true, id, trustDomain, service };
}

function refuse(code: IdentityRefusal, reason: string): IdentityVerdict {
  return { ok: false, code, reason };
}

/** The error a refused server identity surfaces as (through undici and node:http2, possibly as a cause). */
export const ERR_PEER_IDENTITY = 'ERR_MESH_PEER_IDENTITY';

export interface PeerIdentityError extends NodeJS.ErrnoException { identity: IdentityRefusal; reason: string }

/**
 * A `checkServerIdentity` for tls.connect / undici / http2 that accepts the server only if its certificate is a
 * mesh identity under `rules` (host names play no part in mesh identity). Node calls it after chain
 * verification, so a certificate from another CA never gets here. It runs on every full handshake and never on
 * a resumed session, which is why pools are kept per destination service (outbound-tls.ts).
 */
export function serverIdentityCheck(rules: IdentityRules): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const v = checkIdentity(cert.raw, rules);
    if (v.ok) return undefined;
    const err = new Error(`server certificate refused: ${v.reason}`) as PeerIdentityError;
    err.code = ERR_PEER_IDENTITY;
    err.identity = v.code;
    err.reason = v.reason;
    return err;
  };
}
