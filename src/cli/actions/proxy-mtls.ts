// Flag checks for `mesh proxy start` with a service certificate (--inbound/--cert/--key/--identity): every mTLS
// flag must come with its partners, so a half-configured sidecar never starts in plaintext by mistake.
import { UsageError } from '../../core/errors.js';
import { validateServiceName } from '../../core/validate.js';
import type { MeshProxyOptions } from '../../proxy/mesh-run.js';

export interface MtlsFlags {
  listen: string; admin: string; workers: number; config?: string; drainTimeout: number; metrics: boolean;
  registry: string; token?: string; ca?: string;
  inbound?: string; app?: string; service?: string; cert?: string; key?: string; policy?: string; permissive?: boolean; inboundAdmin?: string;
  /** `--identity registry`: certificates from the registry instead of files; the token comes from MESH_IDENTITY_TOKEN. */
  identity?: 'registry'; identityToken?: string;
}

/** `given.listen`: --listen is not its default (a flag or MESH_PROXY_LISTEN); `given.admin`: --admin is on the command line. */
export function meshProxyOptions(opts: MtlsFlags, given: { listen: boolean; admin: boolean }, log: (line: string) => void): MeshProxyOptions {
  const fromRegistry = opts.identity === 'registry';
  // With --inbound and no --listen only the sidecar runs, and --admin (the outbound proxy's admin server) would be
  // silently ignored: say which flag the user meant.
  if (opts.inbound !== undefined && !given.listen && given.admin) {
    throw new UsageError('--admin is the outbound proxy\'s admin server, which runs only with --listen; the inbound sidecar\'s is --inbound-admin <host:port>');
  }
  if (fromRegistry && (opts.cert !== undefined || opts.key !== undefined)) {
    throw new UsageError('--identity registry replaces --cert and --key: drop them (the key is generated in memory and the certificate comes from the registry)');
  }
  if (!fromRegistry && (opts.cert === undefined || opts.key === undefined || opts.ca === undefined)) {
    throw new UsageError('mTLS needs --cert, --key and --ca (the mesh CA): issue them with `mesh certs gen <service>`, or use --identity registry');
  }
  if (opts.workers > 1) throw new UsageError('--workers: the mTLS sidecar runs as one process; drop --workers');
  if (opts.service !== undefined) validateServiceName(opts.service);
  if (opts.inbound === undefined && (opts.app !== undefined || opts.permissive || opts.policy !== undefined || opts.inboundAdmin !== undefined)) {
    throw new UsageError('--app, --policy, --permissive and --inbound-admin belong to the inbound sidecar: add --inbound <host:port>');
  }
  return {
    listen: opts.listen,
    admin: opts.admin,
    registry: { url: opts.registry, ...(opts.token === undefined ? {} : { token: opts.token }), ...(opts.ca === undefined ? {} : { caFile: opts.ca }) },
    configFile: opts.config,
    drainTimeoutMs: opts.drainTimeout,
    metrics: opts.metrics,
    log,
    outbound: opts.inbound === undefined || given.listen,
    inbound: opts.inbound,
    app: opts.app,
    service: opts.service,
    tls: fromRegistry ? { registry: { token: opts.identityToken } } : { cert: opts.cert!, key: opts.key!, ca: opts.ca! },
    policyFile: opts.policy,
    permissive: opts.permissive === true,
    inboundAdmin: opts.inboundAdmin,
  };
}
