// Renewal: the caller proves it holds a still-valid mesh certificate by sending its chain and a signature,
// made with that certificate's key, over the DER of the new CSR. This binds the old identity to the new public
// key the way a TLS client certificate's CertificateVerify binds it to the handshake, but works over the
// registry's plain-HTTP loopback API as well as HTTPS. A captured proof is useless to anyone else: replayed,
// it can only get a certificate for the CSR's key, whose private half never left the caller. When the registry
// serves HTTPS, the certificate may instead be presented as the TLS client certificate (mTLS).
import { verify, type X509Certificate } from 'node:crypto';
import { MeshError } from '../../core/errors.js';
import { parseCertificates } from '../../tls/files.js';
import { parseSpiffeId, spiffeIdOf } from '../../tls/spiffe.js';
import { chainProblem } from '../../tls/chain.js';
import { tokenIdOf } from './signer.js';

export interface RenewalProof { chain: string; signature: string }

const refuse = (why: string) => new MeshError('MESH_ERR_UNAUTHORIZED', `renewal refused: ${why}`, { hint: 'a certificate that has expired cannot renew; start again with a bootstrap token (MESH_IDENTITY_TOKEN)' });

/** Checks a renewal proof; returns the service and token the presented certificate was issued for. */
export function verifyRenewal(proof: unknown, csrDer: Buffer, roots: X509Certificate[], trustDomain: string, now: number): PresentedIdentity {
  const p = proof as Partial<RenewalProof> | null;
  if (typeof p !== 'object' || p === null || typeof p.chain !== 'string' || typeof p.signature !== 'string') {
    throw new MeshError('MESH_ERR_INVALID_ARGUMENT', '"renew" must be {"chain": "<PEM chain, leaf first>", "signature": "<base64 signature of the CSR DER>"}');
  }
  let chain: X509Certificate[];
  try { chain = parseCertificates(p.chain, 'the renewal chain'); } catch (err) { throw refuse((err as Error).message); }
  const presented = verifyPresentedChain(chain, roots, trustDomain, now);
  if (!verify('sha256', csrDer, chain[0]!.publicKey, Buffer.from(p.signature, 'base64'))) throw refuse('the signature over the CSR was not made with the presented certificate\'s key');
  return presented;
}

export interface PresentedIdentity { service: string; tokenId: string; spiffeId: string }

/**
 * A still-valid mesh workload certificate, presented in a renewal proof or as a TLS client certificate (where
 * the handshake already proved possession of its key): chain to a current root, an end entity of our trust
 * domain, issued under a bootstrap token.
 */
export function verifyPresentedChain(chain: X509Certificate[], roots: X509Certificate[], trustDomain: string, now: number): PresentedIdentity {
  const problem = chainProblem(chain, roots, now);
  if (problem !== null) throw refuse(problem);
  const leaf = chain[0]!;
  if (leaf.ca) throw refuse('the presented certificate is a CA, not a workload certificate');
  const spiffeId = spiffeIdOf(leaf);
  const parsed = spiffeId === null ? null : parseSpiffeId(spiffeId);
  if (parsed === null || parsed.trustDomain !== trustDomain || parsed.service === null) throw refuse(`the presented certificate carries ${spiffeId ?? 'no SPIFFE ID'}, not a service of ${trustDomain}`);
  const tokenId = tokenIdOf(leaf);
  if (tokenId === null) throw refuse('the presented certificate was not issued by a registry (it names no bootstrap token)');
  return { service: parsed.service, tokenId, spiffeId: spiffeId! };
}
