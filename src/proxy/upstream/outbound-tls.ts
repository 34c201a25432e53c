// Outbound mTLS: when an endpoint registered a mesh TLS port and this proxy has a service certificate, the
// upstream connection is TLS with our certificate, verified against the mesh CA, and accepted only if the
// server's certificate is a mesh identity (peer-identity.ts) carrying exactly the destination service's SPIFFE
// ID — a valid mesh certificate of another service, a CA certificate or one with two URI SANs is refused, and
// the proxy answers 502 upstream-identity naming the TLS address it dialled and why. Undici pools are built with these options; a certificate rotation replaces them
// (connections already open finish their requests on the old ones).
import type { ConnectionOptions } from 'node:tls';
import type { ProxyIdentity } from '../../core/admin-types.js';
import { clientTlsOptions, type TlsMaterial, type TlsSource } from '../../tls/context.js';
import { ERR_PEER_IDENTITY, type PeerIdentityError } from '../../tls/peer-identity.js';
import { formatServiceId } from '../../tls/spiffe.js';

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
  constructor(private readonly ctx: TlsSource) {}

  connectOptions(service: string): ConnectionOptions {
    const m = this.ctx.material;
    return clientTlsOptions(m, formatServiceId(m.trustDomain, service));
  }

  onReload(listener: () => void): () => void {
    return this.ctx.onReload(() => listener());
  }

  identity(): ProxyIdentity {
    return identityOf(this.ctx.material);
  }
}

export function identityOf(m: TlsMaterial): ProxyIdentity {
  return {
    spiffeId: m.spiffeId, trustDomain: m.trustDomain, source: m.paths === undefined ? 'registry' : 'files',
    notBefore: new Date(m.leaf.validFrom).toISOString(), notAfter: m.notAfter.toISOString(),
  };
}

/** "host:port" or "[v6]:port" with its port replaced by the mesh TLS port. */
export function tlsAddress(address: string, tlsPort: number): string {
  const colon = address.lastIndexOf(':');
  return `${address.slice(0, colon)}:${tlsPort}`;
}

/**
 * What it means when the server's certificate is refused, by OpenSSL's chain verification (error codes node:tls
 * passes through) or by our identity check: the server is not who the mesh says, not a network fault.
 */
const SERVER_CERT_REFUSED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'INVALID_PURPOSE', ERR_PEER_IDENTITY,
]);

/** Whether a failed connection failed in the TLS handshake: a refused certificate, a wrong identity, an alert. */
export function isTlsHandshakeFailure(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && (SERVER_CERT_REFUSED.has(code) || code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code.startsWith('ERR_SSL_') || code === 'ERR_TLS_HANDSHAKE_TIMEOUT')) return true;
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error && cause !== err && isTlsHandshakeFailure(cause);
}

/** The error (itself or one of its causes) saying we refused the server's certificate; undefined for any other failure. */
export function refusedServerCertificate(err: Error): NodeJS.ErrnoException | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause === e ? undefined : e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && SERVER_CERT_REFUSED.has(code)) return e as NodeJS.ErrnoException;
  }
  return undefined;
}

/**
 * The upstream-identity message, for HTTP/1.1 and h2 alike: it names the TLS address actually dialled (not the
 * app's) and why its certificate was refused (which identity it carries, two URI SANs, a CA certificate, an
 * untrusted chain...).
 */
export function refusedIdentityMessage(service: string, endpoint: string, tlsPort: number, refusal: NodeJS.ErrnoException, tries: number): string {
  const why = refusal.code === ERR_PEER_IDENTITY ? (refusal as PeerIdentityError).reason : `${refusal.code}: ${refusal.message}`;
  return `service "${service}": refused the certificate of ${tlsAddress(endpoint, tlsPort)}, the mesh TLS port of endpoint ${endpoint} (${why}) after ${tries} ${tries === 1 ? 'try' : 'tries'}`;
}
