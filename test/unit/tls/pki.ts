// Test PKI built with the real issuance code: a mesh CA, leaves for services, a second unrelated CA, and
// certificates with past or future validity windows.
import { join } from 'node:path';
import { initCa, loadCa, type KeyType, type LoadedCa } from '../../../src/tls/ca.js';
import { issueLeaf, writeLeaf, type LeafOptions } from '../../../src/tls/leaf.js';
import type { TlsFilePaths } from '../../../src/tls/context.js';

export interface TestPki {
  dir: string;
  ca: LoadedCa;
  caPath: string;
  /** Issues and writes <dir>/<out>/<service>.pem; returns cert/key/ca paths. */
  leaf(service: string, opts?: Partial<LeafOptions> & { out?: string }): Promise<TlsFilePaths>;
}

export async function makePki(dir: string, name = 'ca', opts: { trustDomain?: string; keyType?: KeyType } = {}): Promise<TestPki> {
  const caDir = join(dir, name);
  await initCa({ dir: caDir, trustDomain: opts.trustDomain ?? 'mesh.local', days: 30, keyType: opts.keyType ?? 'ec', force: false });
  const ca = loadCa(caDir);
  const caPath = join(caDir, 'ca.pem');
  return {
    dir, ca, caPath,
    async leaf(service, o = {}) {
      const issued = await issueLeaf(ca, { service, lifetimeMs: 3_600_000, dns: [], ip: [], ...o });
      const written = writeLeaf(join(dir, o.out ?? `${name}-leaves`), service, issued);
      return { cert: written.certPath, key: written.keyPath, ca: caPath };
    },
  };
}
