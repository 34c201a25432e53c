// `mesh check`: diagnostics in the spirit of `linkerd check`. Each check is independent, never throws, and
// says what it found and — when it fails — what to do about it. Registry and proxy are always checked; the
// CA, certificates, config and policy only when named.
import { X509Certificate } from 'node:crypto';
import { isMeshError } from '../core/errors.js';
import type { ProxyIdentity, RoutesSnapshot } from '../core/admin-types.js';
import { loadPolicyFile } from '../authz/load.js';
import { adminGet, parseAdminJson } from '../metrics/admin-client.js';
import { loadConfig } from '../config/proxy-config.js';
import { RegistryClient } from '../registry/client.js';
import { caPaths, loadCa } from '../tls/ca.js';
import { readCertificates } from '../tls/files.js';
import { formatSeconds, inspectCertificateFile } from '../tls/inspect.js';
import { checkIdentity } from '../tls/peer-identity.js';

export interface CheckResult {
  check: string;
  ok: boolean;
  detail: string;
  /** How to fix it (failures only). */
  hint?: string;
}

export interface CheckOptions {
  registry: string;
  token?: string;
  ca?: string;
  proxy: string;
  caDir?: string;
  certs: string[];
  config?: string;
  policy?: string;
  now?: number;
}

async function attempt(check: string, fn: () => Promise<Omit<CheckResult, 'check'>> | Omit<CheckResult, 'check'>): Promise<CheckResult> {
  try {
    return { check, ...(await fn()) };
  } catch (err) {
    const hint = isMeshError(err) ? err.hint : undefined;
    return { check, ok: false, detail: (err as Error).message, ...(hint ? { hint } : {}) };
  }
}

export async function runChecks(o: CheckOptions): Promise<CheckResult[]> {
  const now = o.now ?? Date.now();
  const results: CheckResult[] = [];
  let proxyIdentity: ProxyIdentity | undefined;
  results.push(await attempt('registry', async () => {
    const client = new RegistryClient({ url: o.registry, timeoutMs: 5_000, ...(o.token ? { token: o.token } : {}), ...(o.ca ? { caFile: o.ca } : {}) });
    try {
      const s = await client.status();
      if (s.readOnly) return { ok: false, detail: `registry at ${o.registry} is read-only${s.reason ? `: ${s.reason}` : ''}`, hint: 'check its backing store (etcd) and its data dir' };
      return { ok: true, detail: `registry at ${o.registry} is reachable (${s.kind} store, ${s.services} services, ${s.instances} instances)` };
    } finally {
      await client.close();
    }
  }));
  results.push(await attempt('proxy', async () => {
    const health = await adminGet(o.proxy, '/healthz');
    if (health.status !== 200) return { ok: false, detail: `proxy admin at ${o.proxy} answered /healthz with ${health.status}`, hint: 'is --proxy the proxy\'s --admin address?' };
    const ready = await adminGet(o.proxy, '/ready');
    if (ready.status !== 200) {
      const reason = (() => { try { return (JSON.parse(ready.body) as { reason?: string }).reason; } catch { return undefined; } })();
      return { ok: false, detail: `proxy at ${o.proxy} is not ready${reason ? `: ${reason}` : ''}`, hint: 'check that its registry is reachable: mesh routes --proxy ' + o.proxy };
    }
    const routes = parseAdminJson<RoutesSnapshot>(o.proxy, '/routes', await adminGet(o.proxy, '/routes'));
    if (!routes.registry.connected) {
      return { ok: false, detail: `proxy at ${o.proxy} has lost its registry ${routes.registry.url}${routes.registry.lastError ? ` (${routes.registry.lastError})` : ''}; it routes with its last table`, hint: 'start the registry or fix the proxy\'s --registry' };
    }
    proxyIdentity = routes.identity;
    return { ok: true, detail: `proxy at ${o.proxy} is ready (${routes.services.length} services, registry ${routes.registry.url} connected)` };
  }));
  if (proxyIdentity !== undefined) results.push(identityVerdict(proxyIdentity, now));
  let caCert: X509Certificate | undefined;
  let trustDomain: string | undefined;
  if (o.caDir !== undefined) {
    results.push(await attempt('ca', () => {
      const ca = loadCa(o.caDir!);
      caCert = ca.cert;
      trustDomain = ca.trustDomain;
      return certVerdict(`CA in ${ca.dir} (trust domain ${ca.trustDomain})`, inspectCertificateFile(caPaths(ca.dir).certPath, now), 'create a new CA with `mesh certs ca init --force` and reissue the certificates');
    }));
  }
  // A --cert is a service certificate, used both ways (a sidecar serves callers and calls servers with it), so it
  // must be a mesh identity fit for both; its trust domain is checked against the CA's when --ca-dir names it.
  for (const file of o.certs) {
    results.push(await attempt(`cert ${file}`, () => {
      const report = inspectCertificateFile(file, now);
      const [cert] = readCertificates(file);
      const what = `${file} (${report.spiffeId ?? report.subject})`;
      if (caCert && (!cert!.checkIssued(caCert) || !cert!.verify(caCert.publicKey))) {
        return { ok: false, detail: `${what} was not issued by the CA in ${o.caDir}`, hint: 'reissue it with `mesh certs gen` from this CA' };
      }
      const identity = checkIdentity(cert!.raw, { trustDomain, roles: ['server', 'client'] });
      if (!identity.ok) {
        return { ok: false, detail: `${what} is not a mesh identity: ${identity.reason}`, hint: `issue the service a certificate with \`mesh certs gen <service>${o.caDir ? ` --ca-dir ${o.caDir}` : ''}\`` };
      }
      return certVerdict(what, report, 'reissue it with `mesh certs gen`');
    }));
  }
  if (o.config !== undefined) {
    results.push(await attempt('config', async () => {
      const c = await loadConfig(o.config!);
      return { ok: true, detail: `proxy config ${o.config} is valid (${c.services.size} services configured, default policy ${c.defaults.policy})` };
    }));
  }
  if (o.policy !== undefined) {
    results.push(await attempt('policy', () => {
      const p = loadPolicyFile(o.policy!);
      return { ok: true, detail: `policy ${o.policy} is valid (${Object.keys(p.services).length} services, default ${p.defaultAction})` };
    }));
  }
  return results;
}

/** The proxy's own certificate: a warning once less than 20% of its lifetime is left (renewal should have happened at 50–70%). */
export function identityVerdict(id: ProxyIdentity, now: number): CheckResult {
  const end = Date.parse(id.notAfter);
  const life = end - Date.parse(id.notBefore);
  const what = `proxy identity ${id.spiffeId} (${id.source === 'registry' ? 'registry-issued' : 'from files'})`;
  const fix = id.source === 'registry' ? 'renewal is failing: check that the proxy reaches the registry and that its token was not revoked (see the proxy\'s log)' : 'reissue it with `mesh certs gen`';
  if (end <= now) return { check: 'identity', ok: false, detail: `${what} expired on ${id.notAfter}`, hint: fix };
  const left = formatSeconds((end - now) / 1000);
  if (end - now < 0.2 * life) return { check: 'identity', ok: false, detail: `${what} expires in ${left} (less than 20% of its lifetime left)`, hint: fix };
  return { check: 'identity', ok: true, detail: `${what} is valid for ${left} more` };
}

function certVerdict(what: string, r: ReturnType<typeof inspectCertificateFile>, fix: string): Omit<CheckResult, 'check'> {
  const left = formatSeconds(Math.max(0, r.remainingSeconds));
  switch (r.status) {
    case 'valid': return { ok: true, detail: `${what} is valid for ${left} more` };
    case 'expiring': return { ok: false, detail: `${what} expires in ${left} (less than a third of its lifetime left)`, hint: fix };
    case 'expired': return { ok: false, detail: `${what} expired on ${r.notAfter}`, hint: fix };
    default: return { ok: false, detail: `${what} is not valid before ${r.notBefore}`, hint: 'check the clock of the machine that issued it' };
  }
}
