// Chain checks shared by the registry (a renewal's certificate), TLS material loading and the identity client:
// leaf → issuer(s) → one of the trust bundle's roots, each signature verified and each certificate inside its
// validity window at `now` (null: signatures only; the caller checks validity itself).
import type { X509Certificate } from 'node:crypto';

/** Why the chain does not lead to a root, or null when it does. */
export function chainProblem(chain: X509Certificate[], roots: X509Certificate[], now: number | null): string | null {
  if (chain.length === 0) return 'the chain is empty';
  for (const c of chain) {
    if (now === null) break;
    if (now >= new Date(c.validTo).getTime()) return `certificate ${c.subject.replace(/\n/g, ', ')} expired at ${new Date(c.validTo).toISOString()}`;
    if (now < new Date(c.validFrom).getTime()) return `certificate ${c.subject.replace(/\n/g, ', ')} is not valid yet`;
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    if (!parent.ca || !child.checkIssued(parent) || !child.verify(parent.publicKey)) return `certificate ${i + 1} of the chain was not signed by certificate ${i + 2}`;
  }
  const top = chain[chain.length - 1]!;
  if (!roots.some((r) => r.ca && top.checkIssued(r) && top.verify(r.publicKey))) return 'the chain does not lead to a root of this mesh';
  return null;
}

/** Whether the chain's signatures lead to one of `roots` (validity windows are checked elsewhere). */
export function chainLeadsTo(chain: X509Certificate[], roots: X509Certificate[]): boolean {
  return chainProblem(chain, roots, null) === null;
}

/** The root of `roots` the chain's signatures lead to, or undefined when they lead to none. */
export function chainRoot(chain: X509Certificate[], roots: X509Certificate[]): X509Certificate | undefined {
  if (!chainLeadsTo(chain, roots)) return undefined;
  const top = chain[chain.length - 1]!;
  return roots.find((r) => r.ca && top.checkIssued(r) && top.verify(r.publicKey));
}
