// Outbound mTLS: when an endpoint registered a mesh TLS port and this proxy has a service certificate, the
// upstream connection is TLS with our certificate, verified against the mesh CA, and accepted only if the
// server's certificate carries exactly the destination service's SPIFFE ID — a valid mesh certificate of
// another service is refused. Undici pools are built with these options; a certificate rotation replaces them
// (connections already open finish their requests on the old ones).
import type { ConnectionOptions } from 'node:tls';
import type { ProxyIdentity } from '../core/admin-types.js';
import { clientTlsOptions, type TlsMaterial, type TlsSource } from '../tls/context.js';
import { formatServiceId } from '../tls/spiffe.js';

export interface OutboundTlsProvider {
  /** TLS connect options for a mesh connection to `service`. */
  connectOptions(service: string): ConnectionOptions;
  /** Called after our certificate or CA changed, so pools built with the old options can be replaced. */
  onReload(listener: () => void): () => void;
  /** The identity we present, for /routes (and so `mesh routes`, `mesh top`, `mesh check`). */
  identity?(): ProxyIdentity;
}

// Node skips checkServerIdentity on a resumed TLS session, so a session must never be offered to a server
// whose identity was checked for another service: UpstreamPools keeps one pool (and so one undici session
// cache) per address *and* destination service, which keeps every resumed session bound to one identity.
export class OutboundTls implements OutboundTlsProvider {
  constructor(private readonly ctx: TlsSource, private readonly trustDomain: string) {}

  connectOptions(service: string): ConnectionOptions {
    return clientTlsOptions(this.ctx.material, formatServiceId(this.trustDomain, service));
  }

  onReload(listener: () => void): () => void {
    return this.ctx.onReload(() => listener());
  }

  identity(): ProxyIdentity {
    return identityOf(this.ctx.material, this.trustDomain);
  }
}

export function identityOf(m: TlsMaterial, trustDomain: string): ProxyIdentity {
  return {
    spiffeId: m.spiffeId ?? '', trustDomain, source: m.paths === undefined ? 'registry' : 'files',
    notBefore: new Date(m.leaf.validFrom).toISOString(), notAfter: m.notAfter.toISOString(),
  };
}

/** "host:port" or "[v6]:port" with its port replaced by the mesh TLS port. */
export function tlsAddress(address: string, tlsPort: number): string {
  const colon = address.lastIndexOf(':');
  return `${address.slice(0, colon)}:${tlsPort}`;
}

/** Certificate verification results OpenSSL reports as error codes (node:tls passes them through). */
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_MESH_SPIFFE_MISMATCH',
]);

/** Whether a failed connection failed in the TLS handshake: a refused certificate, a wrong identity, an alert. */
export function isTlsHandshakeFailure(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && (CERT_CODES.has(code) || code.startsWith('ERR_SSL_') || code === 'ERR_TLS_HANDSHAKE_TIMEOUT')) return true;
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error && cause !== err && isTlsHandshakeFailure(cause);
}
