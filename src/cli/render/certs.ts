// Pure renderers for `mesh certs`: the inspect table and --json come from the same CertReport value.
import { Chalk } from 'chalk';
import Table from 'cli-table3';
import type { CaResult } from '../../tls/ca.js';
import type { IssuerResult } from '../../tls/issuer.js';
import type { RotationStep } from '../../tls/rotate.js';
import type { CertReport } from '../../tls/inspect.js';
import { formatSeconds } from '../../tls/inspect.js';
import type { IssuedCert, WrittenCert } from '../../tls/leaf.js';

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function keyText(k: CertReport['key']): string {
  return k.curve ? `${k.type.toUpperCase()} ${k.curve}` : k.bits ? `${k.type.toUpperCase()} ${k.bits} bits` : k.type.toUpperCase();
}

export function renderInspectTable(r: CertReport, opts: { color: boolean }): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const statusText = { valid: c.green('valid'), expiring: c.yellow('expiring soon'), expired: c.red('EXPIRED'), 'not-yet-valid': c.red('NOT YET VALID') }[r.status];
  const sans = [
    ...r.sans.uri.map((v) => `URI:${v}`), ...r.sans.dns.map((v) => `DNS:${v}`),
    ...r.sans.ip.map((v) => `IP:${v}`), ...r.sans.email.map((v) => `email:${v}`),
  ];
  const rows: [string, string][] = [
    ['file', r.file + (r.moreInFile > 0 ? ` (first of ${r.moreInFile + 1} certificates)` : '')],
    ['kind', r.kind === 'ca' ? `CA${r.selfSigned ? ' (self-signed root)' : ''}` : `leaf${r.selfSigned ? ' (self-signed)' : ''}`],
    ['subject', r.subject],
    ['issuer', r.issuer],
    ['serial', r.serial],
    ['SPIFFE ID', r.spiffeId ?? '-'],
    ['SANs', sans.length > 0 ? sans.join('\n') : '-'],
    ['not before', r.notBefore],
    ['not after', r.notAfter],
    ['time left', `${r.remainingSeconds > 0 ? formatSeconds(r.remainingSeconds) : 'none'} of ${formatSeconds(r.lifetimeSeconds)} (${statusText})`],
    ['key', keyText(r.key)],
    ['signature', r.signatureAlgorithm],
    ['key usage', r.keyUsage.join(', ') || '-'],
    ['ext key usage', r.extKeyUsage.join(', ') || '-'],
    ['SHA-256', r.fingerprintSha256],
  ];
  for (const w of r.warnings) rows.push(['warning', c.yellow(w)]);
  const table = new Table({
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [] },
  });
  table.push(...rows.map(([k, v]) => [k.toUpperCase(), v]));
  return `${table.toString().split('\n').map((l) => l.trimEnd()).join('\n')}\n`;
}

export function renderCaInit(r: CaResult): string {
  return [
    `Created a mesh CA for trust domain ${r.trustDomain} (${r.keyType === 'ec' ? 'ECDSA P-256' : 'RSA 2048'}) in ${r.dir}`,
    `  certificate  ${r.certPath}  (share it: every sidecar trusts it; valid until ${r.notAfter})`,
    `  private key  ${r.keyPath}  (mode 0600: keep it secret, it can mint any identity)`,
    `  SHA-256      ${r.fingerprintSha256}`,
    `Next: mesh certs gen <service> --ca-dir ${r.dir}`,
    '',
  ].join('\n');
}

export function renderIssuer(r: IssuerResult): string {
  return [
    `Created an issuer for trust domain ${r.trustDomain} in ${r.dir} (CA:TRUE, pathlen 0, names limited to spiffe://${r.trustDomain}/…)`,
    `  certificate   ${r.certPath}  (valid until ${r.notAfter})`,
    `  private key   ${r.keyPath}  (mode 0600: it signs every leaf the registry issues)`,
    `  trust bundle  ${r.rootsPath}`,
    `  SHA-256       ${r.fingerprintSha256}`,
    `Next: mesh registry start --issuer ${r.dir}`,
    '',
  ].join('\n');
}

export function renderRotation(step: RotationStep, newRootDir: string): string {
  const issuers = step.issuers.map((i) => `  ${i.dir}: trust bundle now holds ${i.roots} root${i.roots === 1 ? '' : 's'}`);
  if (step.newRoot === null) return [`Root rotation finished: only the root in ${newRootDir} is trusted`, ...issuers, ''].join('\n');
  return [
    `Created a new root for trust domain ${step.newRoot.trustDomain} in ${newRootDir} and added it to the trust bundles:`,
    ...issuers,
    'Next, once the registries have logged "issuer reloaded":',
    ...step.issuers.map((i) => `  mesh certs ca issuer --ca-dir ${newRootDir} --out ${i.dir} --force`),
    `then wait one --cert-ttl for every workload to renew, and finish:`,
    `  mesh certs ca rotate --finish --ca-dir ${newRootDir} ${step.issuers.map((i) => `--issuer ${i.dir}`).join(' ')}`,
    '',
  ].join('\n');
}

export interface GenView extends WrittenCert {
  service: string;
  spiffeId: string | null;
  dns: string[];
  ip: string[];
  notBefore: string;
  notAfter: string;
  selfSigned: boolean;
}

export function genView(service: string, issued: IssuedCert, written: WrittenCert, selfSigned: boolean): GenView {
  return {
    service, ...written, spiffeId: issued.spiffeId, dns: issued.dns, ip: issued.ip,
    notBefore: issued.notBefore, notAfter: issued.notAfter, selfSigned,
  };
}

export function renderGen(v: GenView): string {
  return [
    v.selfSigned ? `Issued a self-signed certificate for ${v.service} (plain TLS, no mesh identity)` : `Issued ${v.spiffeId}`,
    `  certificate  ${v.certPath}`,
    `  private key  ${v.keyPath}  (mode 0600)`,
    `  names        ${[...v.dns.map((d) => `DNS:${d}`), ...v.ip.map((i) => `IP:${i}`)].join(', ')}`,
    `  valid        ${v.notBefore} .. ${v.notAfter}`,
    '',
  ].join('\n');
}
