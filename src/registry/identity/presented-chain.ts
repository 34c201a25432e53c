// The client certificate chain of an mTLS call to the registry, read in identity/routes.ts. Its own module, on
// Node's crypto only, because the routes load with every daemon: renewal.ts (which checks the chain) reaches
// @peculiar/x509 through signer.ts, ~19 MiB of RSS that a daemon without --issuer must not pay (issue 15).
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

/** The certificate chain a TLS client presented (leaf first), as Node exposes it on the server side. */
export function presentedChain(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let cert = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
  while (cert?.raw !== undefined && out.length < 8) {
    out.push(new X509Certificate(cert.raw));
    const next = cert.issuerCertificate;
    if (next === undefined || next === cert || next.raw?.equals(cert.raw)) break;
    cert = next;
  }
  return out;
}
