// Root rotation without a failed request, in the order linkerd documents for its trust anchor:
//   1. start:  a new root (same trust domain) is created and added to every issuer's roots.pem, beside the old
//              one; registries reload and workloads follow the bundle, so everyone trusts both roots.
//   2. issuers: each issuer is replaced by one signed by the new root (`mesh certs ca issuer --force`, which
//              keeps the bundle); workloads move to the new chain at their next renewal (within --cert-ttl).
//   3. finish: once every leaf has renewed, the old root is removed from every roots.pem. Refused while an
//              issuer still chains only to the old root, since every leaf it signs would stop verifying.
import { join } from 'node:path';
import { MeshError } from '../core/errors.js';
import { initCa, loadCa, type CaResult, type LoadedCa } from './ca.js';
import { CERT_MODE, writeFilesAtomic } from './files.js';
import { loadIssuer } from './issuer.js';

export interface RotationStep { newRoot: CaResult | null; issuers: { dir: string; roots: number }[] }

/** Step 1: creates the new root in `out` and adds it to each issuer's trust bundle. */
export async function startRootRotation(old: LoadedCa, opts: { out: string; days: number; issuerDirs: string[] }): Promise<RotationStep> {
  for (const dir of opts.issuerDirs) loadIssuer(dir); // every issuer is usable before anything is written
  const newRoot = await initCa({ dir: opts.out, trustDomain: old.trustDomain, days: opts.days, keyType: old.keyType, force: false, nameSuffix: new Date().toISOString().slice(0, 19) });
  const fresh = loadCa(newRoot.dir);
  const issuers = opts.issuerDirs.map((dir) => {
    const issuer = loadIssuer(dir);
    if (issuer.trustDomain !== old.trustDomain) throw new MeshError('MESH_ERR_TLS', `issuer ${issuer.dir} is for trust domain ${issuer.trustDomain}, not ${old.trustDomain}`);
    const roots = [...issuer.roots.filter((r) => r.fingerprint256 !== fresh.cert.fingerprint256), fresh.cert];
    writeRoots(issuer.dir, roots.map((r) => r.toString()));
    return { dir: issuer.dir, roots: roots.length };
  });
  return { newRoot, issuers };
}

/** Step 3: leaves only the new root in each issuer's trust bundle. */
export function finishRootRotation(root: LoadedCa, issuerDirs: string[]): RotationStep {
  const issuers = issuerDirs.map((dir) => {
    const issuer = loadIssuer(dir);
    if (!issuer.cert.checkIssued(root.cert) || !issuer.cert.verify(root.cert.publicKey)) {
      throw new MeshError('MESH_ERR_TLS', `issuer ${issuer.dir} is still signed by the old root; finishing now would break every certificate it issued`, {
        hint: `replace it first: mesh certs ca issuer --ca-dir ${root.dir} --out ${issuer.dir} --force, then wait one --cert-ttl`,
      });
    }
    return issuer;
  });
  for (const issuer of issuers) writeRoots(issuer.dir, [root.certPem]);
  return { newRoot: null, issuers: issuers.map((i) => ({ dir: i.dir, roots: 1 })) };
}

function writeRoots(dir: string, pems: string[]): void {
  writeFilesAtomic([{ path: join(dir, 'roots.pem'), data: pems.join(''), mode: CERT_MODE }]);
}
