// `mesh proxy start` with a service certificate: the inbound sidecar (--inbound, in front of --app) and/or the
// outbound proxy with mTLS to endpoints that registered a mesh TLS port. One process; the certificate, key, CA
// and policy files are watched and swapped without a restart.
import { PolicyHolder, type PolicySource } from '../authz/load.js';
import { RegistryClient } from '../registry/client.js';
import { untilSignal } from '../core/signals.js';
import { CentralConfigFollower } from './discovery/central-config.js';
import { MeshError, UsageError } from '../core/errors.js';
import { loadTlsMaterial, ReloadingTlsContext, type TlsFilePaths, type TlsMaterial, type TlsSource } from '../tls/context.js';
import type { IdentityRole } from '../tls/peer-identity.js';
import type { RegistryIdentity } from './identity/registry-identity.js';
import type { Registry } from 'prom-client';
import { parseSpiffeId } from '../tls/spiffe.js';
import { InboundSidecar } from './inbound/inbound.js';
import { createInboundAdmin, InboundMetrics } from './inbound/metrics.js';
import { OutboundTls } from './upstream/outbound-tls.js';
import { settingsFor } from '../config/proxy-config.js';
import { loadConfigFlag, startProxy, type ProxyOptions, type RunningProxy } from './proxy.js';
import { parseHostPort } from '../core/validate.js';
import { listenOn } from './listen.js';
import { Tracer } from '../tracing/tracer.js';

export interface MeshProxyOptions extends ProxyOptions {
  /** Aborts start-up (SIGTERM while waiting for a first certificate from a registry that is away). */
  signal?: AbortSignal;
  /** Run the outbound listener too (with --inbound it runs only when --listen was given). */
  outbound: boolean;
  inbound: string | undefined;
  app: string | undefined;
  service: string | undefined;
  /** The certificate files, or the registry (`--identity registry`) with the bootstrap token. */
  tls: TlsFilePaths | { registry: { token: string | undefined } };
  policyFile: string | undefined;
  permissive: boolean;
  /** Where the inbound sidecar serves GET /metrics; undefined = nowhere. */
  inboundAdmin: string | undefined;
}

export interface RunningMeshProxy { inbound: string | undefined; outbound: RunningProxy | undefined; sidecar: InboundSidecar | undefined; stop(): Promise<void> }

export async function startMeshProxy(opts: MeshProxyOptions): Promise<RunningMeshProxy> {
  const log = opts.log;
  // The identity is the certificate's; --service, when given, must agree with it. The certificate must be fit for
  // what this process does with it: serve callers (--inbound) and call servers (the outbound listener).
  const roles: IdentityRole[] = [...(opts.inbound !== undefined ? ['server' as const] : []), ...(opts.outbound ? ['client' as const] : [])];
  const { tls, first, identity } = await tlsSource(opts, roles);
  // The service this proxy calls as, which faults injected `--from` it match.
  const ownService = parseSpiffeId(first.spiffeId).service;
  let policy: PolicyHolder | undefined;
  // Without --policy the sidecar enforces the registry's central policy (a local file replaces it whole).
  let centralPolicy: { follower: CentralConfigFollower; client: RegistryClient } | undefined;
  let policySource: PolicySource | undefined;
  let sidecar: InboundSidecar | undefined;
  let inboundAddr: string | undefined;
  let outbound: RunningProxy | undefined;
  let inboundAdmin: import('node:http').Server | undefined;
  // One tracer for the sidecar and the outbound proxy: one ring for `mesh trace`, one export queue.
  const tracer = opts.tracing === undefined ? undefined : new Tracer(opts.tracing, log);
  try {
    if (opts.policyFile !== undefined) policy = policySource = new PolicyHolder(opts.policyFile, { log });
    if (opts.inbound !== undefined) {
      if (opts.app === undefined) throw new UsageError('--inbound needs --app <host:port>, the local app to forward to');
      if (opts.service === undefined) throw new UsageError('--inbound needs --service <name>, the service this sidecar fronts');
      parseHostPort(opts.app, '--app');
      const metrics = new InboundMetrics(opts.service);
      identity?.registerMetrics(metrics.registry);
      // The sidecar reads its service's settings from --config once, at start (it has no reload).
      const allowUnderscoresInHeaders = opts.configFile === undefined ? false : settingsFor(await loadConfigFlag(opts.configFile), opts.service).allowUnderscoresInHeaders;
      if (policy === undefined) {
        const client = new RegistryClient({ url: opts.registry.url, token: opts.registry.token, caFile: opts.registry.caFile });
        const follower = new CentralConfigFollower(client, () => undefined, () => undefined, log);
        centralPolicy = { follower, client };
        follower.start();
        await follower.ready(5_000);
        policySource = { get policy() { return follower.current.policy; } };
      }
      sidecar = new InboundSidecar({ service: opts.service, app: opts.app, tls, policy: policySource, permissive: opts.permissive, metrics, allowUnderscoresInHeaders, log, tracer });
      if (opts.inboundAdmin !== undefined) {
        inboundAdmin = createInboundAdmin(metrics, tracer);
        log(`mesh proxy: inbound metrics on http://${await listenOn(inboundAdmin, opts.inboundAdmin, '--inbound-admin')}/metrics`);
      }
      inboundAddr = await listenOn(sidecar.listener, opts.inbound, '--inbound');
      log(`mesh proxy: inbound ${inboundAddr} -> ${opts.app} as ${first.spiffeId} (mTLS${opts.permissive ? ' and plaintext: --permissive' : ' required'}; ${policy ? `policy ${opts.policyFile}` : `the registry's central policy (version ${centralPolicy?.follower.current.version ?? 0}; none: every authenticated caller is allowed)`})`);
    }
    if (opts.outbound) {
      outbound = await startProxy({ ...opts, outboundTls: new OutboundTls(tls), ...(ownService === null ? {} : { ownService }), ...(tracer === undefined ? {} : { tracer }), ...(identity ? { extraMetrics: (r: Registry) => identity.registerMetrics(r) } : {}) });
      log(`mesh proxy: outbound ${outbound.listen} (admin ${outbound.admin ?? 'off'}, registry ${opts.registry.url}), mTLS as ${first.spiffeId} to endpoints with a mesh TLS port`);
    }
  } catch (err) {
    tls.close();
    void identity?.client.destroy();
    policy?.close();
    centralPolicy?.follower.close();
    void centralPolicy?.client.close();
    sidecar?.listener.close();
    inboundAdmin?.close();
    void tracer?.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = () => stopping ??= (async () => {
    tls.close();
    void identity?.client.destroy();
    policy?.close();
    centralPolicy?.follower.close();
    void centralPolicy?.client.close();
    const drains: Promise<unknown>[] = [];
    if (outbound) drains.push(outbound.stop());
    if (sidecar) {
      sidecar.draining = true;
      const s = sidecar;
      drains.push((async () => {
        const closed = new Promise<void>((r) => s.listener.close(() => r()));
        const idle = setInterval(() => { s.https.closeIdleConnections(); s.plain?.closeIdleConnections(); }, 100);
        const deadline = new Promise<boolean>((r) => setTimeout(() => r(false), opts.drainTimeoutMs).unref());
        if (!(await Promise.race([closed.then(() => true), deadline]))) {
          s.https.closeAllConnections();
          s.plain?.closeAllConnections();
        }
        clearInterval(idle);
        await s.close();
        const st = s.stats;
        log(`mesh proxy: inbound served ${st.mtlsRequests} mTLS and ${st.plaintextRequests} unauthenticated requests, denied ${st.denied}, refused ${st.handshakesRefused} handshakes`);
      })());
    }
    await Promise.all(drains);
    if (inboundAdmin) {
      inboundAdmin.closeAllConnections();
      await new Promise<void>((r) => inboundAdmin!.close(() => r()));
    }
    await tracer?.close();
  })();
  return { inbound: inboundAddr, outbound, sidecar, stop };
}

/**
 * The proxy's TLS material: watched files, or an identity from the registry. Either way the identity is the
 * certificate's, and --service, when given, must agree with it.
 */
async function tlsSource(opts: MeshProxyOptions, roles: readonly IdentityRole[]): Promise<{ tls: TlsSource; first: TlsMaterial; identity?: { registerMetrics: RegistryIdentity['registerMetrics']; client: RegistryClient } }> {
  const log = opts.log;
  if ('registry' in opts.tls) {
    const { RegistryIdentity } = await import('./identity/registry-identity.js');
    const client = new RegistryClient({ url: opts.registry.url, ...(opts.registry.caFile === undefined ? {} : { caFile: opts.registry.caFile }) });
    let identity: RegistryIdentity;
    try {
      identity = await RegistryIdentity.start({ client, log, ...(opts.service === undefined ? {} : { service: opts.service }), ...(opts.tls.registry.token === undefined ? {} : { token: opts.tls.registry.token }), ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
    } catch (err) {
      await client.destroy();
      throw err;
    }
    const m = identity.material;
    log(`mesh proxy: identity: got ${m.spiffeId} from the registry at ${opts.registry.url} (valid until ${m.notAfter.toISOString()}; renewing at 50-70% of its lifetime)`);
    return { tls: identity, first: m, identity: { registerMetrics: (r) => identity.registerMetrics(r), client } };
  }
  const files = opts.tls;
  const first = loadTlsMaterial(files, { roles });
  const own = parseSpiffeId(first.spiffeId);
  if (opts.service !== undefined && own.service !== opts.service) {
    throw new MeshError('MESH_ERR_TLS', `certificate "${files.cert}" is for ${first.spiffeId}, not service ${opts.service}`, { hint: `issue one with \`mesh certs gen ${opts.service}\`` });
  }
  for (const w of first.warnings) log(`mesh proxy: warning: ${w}`);
  return { tls: new ReloadingTlsContext(files, { expectSpiffeId: first.spiffeId, roles, log }), first };
}

/** Runs until SIGTERM/SIGINT, then drains. */
export async function runMeshProxy(opts: MeshProxyOptions): Promise<void> {
  // Listening from the start: a signal during start-up (a sidecar waiting for its first certificate while the
  // registry is away) ends the wait and the process with 0, as a signal after start-up does.
  const stopping = new AbortController();
  const signalled = untilSignal();
  void signalled.then(() => stopping.abort());
  let running: RunningMeshProxy;
  try {
    running = await startMeshProxy({ ...opts, signal: stopping.signal });
  } catch (err) {
    if (!stopping.signal.aborted) throw err;
    opts.log(`mesh proxy: ${await signalled} before start-up finished; nothing to drain, stopped`);
    return;
  }
  const signal = await signalled;
  opts.log(`mesh proxy: ${signal}, draining (deadline ${opts.drainTimeoutMs} ms)`);
  await running.stop();
  opts.log('mesh proxy: stopped');
}

