// Certificates `mesh certs gen` would never issue, minted with the openssl CLI (the tool a user would reach
// for) and signed by a real mesh CA: a CA:TRUE "leaf" with a SPIFFE ID, two URI SANs, no URI SAN, another
// trust domain, narrow key usages. Tests use them to prove every side refuses what a mesh identity is not.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface OpensslCertSpec {
  /** subjectAltName entries in openssl syntax: "URI:spiffe://mesh.local/service/web", "DNS:localhost". */
  san: string[];
  /** basicConstraints CA:TRUE (default CA:FALSE). */
  ca?: boolean;
  /** keyUsage in openssl syntax; default "critical,digitalSignature". */
  keyUsage?: string;
  /** extendedKeyUsage in openssl syntax; default "serverAuth,clientAuth"; null leaves the extension out. */
  extKeyUsage?: string | null;
}

export interface MintedCert { cert: string; key: string; ca: string }

/**
 * Writes <dir>/<name>.pem and <name>-key.pem (EC P-256), signed by the CA whose certificate and key are given.
 * `ca` in the result is the CA certificate path, so the result is a TlsFilePaths.
 */
export function mintWithOpenssl(dir: string, name: string, signer: { cert: string; key: string }, spec: OpensslCertSpec): MintedCert {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  const lines = ['[v3]', `basicConstraints=critical,CA:${spec.ca ? 'TRUE' : 'FALSE'}`, `keyUsage=${spec.keyUsage ?? 'critical,digitalSignature'}`];
  if (spec.extKeyUsage !== null) lines.push(`extendedKeyUsage=${spec.extKeyUsage ?? 'serverAuth,clientAuth'}`);
  if (spec.san.length > 0) lines.push(`subjectAltName=${spec.san.join(',')}`);
  writeFileSync(ext, `${lines.join('\n')}\n`);
  run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/CN=${name}/O=mesh-test`, '-out', csr]);
  run(['x509', '-req', '-in', csr, '-CA', signer.cert, '-CAkey', signer.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '1', '-sha256', '-extfile', ext, '-extensions', 'v3', '-out', cert]);
  return { cert, key, ca: signer.cert };
}

/** A self-signed CA (EC P-256, CA:TRUE, keyCertSign) with the given subject and no SAN: another tool's CA, or an older mesh's. */
export function mintCaWithOpenssl(dir: string, name: string, subject: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, `${name}-key.pem`);
  const cert = join(dir, `${name}.pem`);
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', subject, '-days', '2', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', cert]);
  return { cert, key };
}

function run(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}
