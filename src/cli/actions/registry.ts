// What `mesh registry start`, `status` and `repair` do once their flags are parsed (registered in
// ../commands/registry.ts).
import { UsageError } from '../../core/errors.js';
import { applyHeapBudget, heapFlagsGiven } from '../../core/heap-budget.js';
import { defaultDataDir } from '../../registry/store/embedded/data-dir.js';
import type { RegistryClientFlags } from '../common.js';
import { dnsOptionsFromFlags, type DnsFlags } from '../dns-flags.js';
import { etcdOptionsFromFlags, type EtcdFlags } from '../etcd-flags.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';
import type { RegistrySecurityFlags } from '../registry-security.js';
import { renderRepairReport } from '../render/registry-repair.js';
import { renderRegistryStatus } from '../render/registry-status.js';
import { registrySecurity } from './registry-security.js';

export type RegistryStartFlags = { listen: string; dataDir?: string; issuer?: string; certTtl?: number } & EtcdFlags & RegistrySecurityFlags & DnsFlags;

/** The default lifetime of registry-issued certificates (as linkerd's): 24 hours. */
const DEFAULT_CERT_TTL_MS = 24 * 3_600_000;

export async function registryStart(ctx: CommandContext, opts: RegistryStartFlags): Promise<void> {
  if (opts.certTtl !== undefined && opts.issuer === undefined) throw new UsageError('--cert-ttl needs --issuer <dir>: only a registry with an issuer signs certificates');
  if (opts.certTtl !== undefined && opts.certTtl < 5_000) throw new UsageError('--cert-ttl: use at least 5s (a certificate must outlive its renewal round trip)');
  const etcd = etcdOptionsFromFlags(opts);
  const discovery = dnsOptionsFromFlags(opts);
  const security = registrySecurity(opts, opts.listen, ctx.io.env, (line) => ctx.io.err(`${line}\n`));
  // The daemon's memory budget (core/heap-budget.ts), before its modules load; node's own heap flags win.
  const heap = heapFlagsGiven(process.execArgv, ctx.io.env.NODE_OPTIONS) ? undefined : applyHeapBudget();
  // Loaded on demand: client commands should not pay for (or depend on) the daemon's code.
  const { runRegistryDaemon } = await import('../../registry/daemon.js');
  const storeFactory = etcd === undefined ? undefined : (await import('../../registry/store/etcd/etcd-store.js')).etcdStoreFactory(etcd);
  await runRegistryDaemon({
    listen: opts.listen,
    dataDir: opts.dataDir ?? defaultDataDir(ctx.io.env),
    log: (line) => ctx.io.err(`${line}\n`),
    onStarted: () => heap?.allowGrowth(),
    ...(storeFactory ? { storeFactory } : {}),
    ...security,
    ...discovery,
    ...(opts.issuer === undefined ? {} : { identity: { issuerDir: opts.issuer, certTtlMs: opts.certTtl ?? DEFAULT_CERT_TTL_MS } }),
  });
}

export async function registryStatus(ctx: CommandContext, opts: RegistryClientFlags & { json?: boolean }): Promise<void> {
  const client = registryClient(opts);
  try {
    const status = await client.status();
    ctx.io.out(opts.json ? `${JSON.stringify(status, null, 2)}\n` : renderRegistryStatus(status, client.url));
  } finally {
    await client.close();
  }
}

export type RegistryRepairFlags = { dataDir?: string; discardSnapshot?: boolean; json?: boolean };

export async function registryRepair(ctx: CommandContext, opts: RegistryRepairFlags): Promise<void> {
  const { repairDataDir } = await import('../../registry/store/embedded/repair.js');
  const report = await repairDataDir(opts.dataDir ?? defaultDataDir(ctx.io.env), { discardSnapshot: opts.discardSnapshot === true });
  ctx.io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderRepairReport(report));
}
