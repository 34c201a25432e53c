// Identity test helpers: a root CA and issuers made by the real `mesh certs`, a registry that signs with one,
// CSRs and renewal proofs made the way a workload makes them, and raw calls to the identity API.
import { execFileSync } from 'node:child_process';
import { sign, webcrypto, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { runMesh } from './mesh.js';
import { startRegistry, type TestRegistry } from './registry.js';

x509.cryptoProvider.set(webcrypto as never);

type After = { after(fn: () => Promise<void> | void): void };

export interface Pki { root: string; rootCert: string; issuers: string[] }

/** `mesh certs ca init` into <dir>/root, then one `mesh certs ca issuer` per name into <dir>/<name>. */
export async function makePki(dir: string, issuerNames: string[] = ['issuer'], trustDomain = 'mesh.local'): Promise<Pki> {
  const root = join(dir, 'root');
  const init = await runMesh(['certs', 'ca', 'init', '--dir', root, '--trust-domain', trustDomain]);
  if (init.code !== 0) throw new Error(init.stderr);
  const issuers: string[] = [];
  for (const name of issuerNames) {
    const out = join(dir, name);
    const r = await runMesh(['certs', 'ca', 'issuer', '--ca-dir', root, '--out', out]);
    if (r.code !== 0) throw new Error(r.stderr);
    issuers.push(out);
  }
  return { root, rootCert: join(root, 'ca.pem'), issuers };
}

export async function startIdentityRegistry(t: After, issuerDir: string, extra: string[] = [], opts: { dataDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<TestRegistry> {
  return startRegistry(t, { args: ['--issuer', issuerDir, ...extra], ...opts });
}

export async function createToken(url: string, service: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await runMesh(['token', 'create', '--service', service, '--registry', url, ...extra], { env });
  if (r.code !== 0) throw new Error(`token create failed: ${r.stderr}`);
  return r.stdout.trim();
}

export interface Workload { keys: webcrypto.CryptoKeyPair; csrPem: string; csrDer: Buffer; keyPem: string }

/** A fresh P-256 key and a CSR over it, optionally asking for names (which the registry must not honour). */
export async function newWorkload(ask: { uri?: string[]; dns?: string[]; cn?: string } = {}): Promise<Workload> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const names = [...(ask.uri ?? []).map((value) => ({ type: 'url' as const, value })), ...(ask.dns ?? []).map((value) => ({ type: 'dns' as const, value }))];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${ask.cn ?? 'workload'}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { keys, csrPem: csr.toString('pem'), csrDer: Buffer.from(csr.rawData), keyPem };
}

/** The renewal proof: the current chain, and a signature over the new CSR's DER with the current key. */
export function renewalProof(current: { chain: string; keyPem: string }, next: Workload): { chain: string; signature: string } {
  return { chain: current.chain, signature: sign('sha256', next.csrDer, current.keyPem).toString('base64') };
}

export interface SignReply { status: number; body: { spiffeId?: string; certificate?: string; chain?: string; roots?: string; notAfter?: string; error?: { code: string; message: string } } }

export async function signRaw(url: string, body: unknown): Promise<SignReply> {
  const res = await fetch(`${url}/v1/identity/sign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() as SignReply['body'] };
}

/** `openssl verify` of a leaf through the issuer(s) in `chain` against `rootsFile`; returns [exit code, output]. */
export function opensslVerify(dir: string, chainPem: string, rootsFile: string): [number, string] {
  const certs = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
  const leaf = join(dir, `leaf-${Date.now()}-${Math.random()}.pem`);
  const untrusted = `${leaf}.chain`;
  writeFileSync(leaf, certs[0]!);
  writeFileSync(untrusted, certs.slice(1).join(''));
  try {
    return [0, execFileSync('openssl', ['verify', '-CAfile', rootsFile, '-untrusted', untrusted, leaf], { encoding: 'utf8', stdio: 'pipe' })];
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return [e.status, `${e.stdout}${e.stderr}`];
  }
}

export function leafOf(chainPem: string): X509Certificate {
  return new X509Certificate(chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
}
