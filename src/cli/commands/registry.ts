// `mesh registry start` runs the registry daemon in the foreground; `mesh registry status` asks a running one.
import { Option, type Command } from 'commander';
import { DEFAULTS } from '../../core/types.js';
import { defaultDataDir } from '../../registry/data-dir.js';
import { addJsonOption, addRegistryClientOptions, durationFlag, type RegistryClientFlags } from '../common.js';
import { UsageError } from '../../core/errors.js';

/** The default lifetime of registry-issued certificates (as linkerd's): 24 hours. */
const DEFAULT_CERT_TTL_MS = 24 * 3_600_000;
import { addEtcdOptions, etcdOptionsFromFlags, type EtcdFlags } from '../etcd-flags.js';
import type { CommandContext } from '../program.js';
import { registryClient } from '../registry-flags.js';
import { renderRegistryStatus } from '../render/registry-status.js';
import { addRegistrySecurityOptions, registrySecurity, type RegistrySecurityFlags } from '../registry-security.js';

export function registerRegistryCommand(program: Command, ctx: CommandContext): void {
  const registry = program
    .command('registry')
    .description('Run the registry daemon, or ask a running one how it is doing.')
    .addHelpText('after', '\nExamples:\n  mesh registry start --data-dir /tmp/mesh-reg\n  mesh registry status --json\n');

  addRegistrySecurityOptions(addEtcdOptions(registry
    .command('start')
    .description('Run the registry daemon in the foreground until SIGTERM or SIGINT. It keeps every acknowledged registration in a durable journal in the data dir (or, with --store etcd, in etcd, shared with the other daemons on the same prefix), runs health checks, and serves the /v1 HTTP API.')
    .addOption(new Option('--listen <host:port>', 'The address the API listens on; keep it on loopback unless the API is protected.').env('MESH_REGISTRY_LISTEN').default(DEFAULTS.registryListen))
    .addOption(new Option('--data-dir <dir>', 'Where the journal and snapshot live (default: $XDG_STATE_HOME/mesh/registry, else ~/.local/state/mesh/registry). Two daemons never share one.').env('MESH_REGISTRY_DATA_DIR'))
    // -- identity (registry-issued certificates) --
    .addOption(new Option('--issuer <dir>', 'Issue workload certificates (POST /v1/identity/sign) with the issuer in this directory, from `mesh certs ca issuer`; it must be mode 0700. Without it the identity API answers 503.').env('MESH_REGISTRY_ISSUER'))
    .addOption(new Option('--cert-ttl <duration>', 'The lifetime of the certificates this registry issues (default 24h; e.g. 1h, 60s). Workloads renew at 50-70% of it.').argParser(durationFlag('--cert-ttl')))))
    .addHelpText('after', '\nExamples:\n  mesh registry start --listen 127.0.0.1:8500 --data-dir /var/lib/mesh/registry\n  mesh registry start --store etcd --etcd-endpoints http://10.0.0.1:2379,http://10.0.0.2:2379\n')
    .action(async (opts: { listen: string; dataDir?: string; issuer?: string; certTtl?: number } & EtcdFlags & RegistrySecurityFlags) => {
      if (opts.certTtl !== undefined && opts.issuer === undefined) throw new UsageError('--cert-ttl needs --issuer <dir>: only a registry with an issuer signs certificates');
      if (opts.certTtl !== undefined && opts.certTtl < 5_000) throw new UsageError('--cert-ttl: use at least 5s (a certificate must outlive its renewal round trip)');
      const etcd = etcdOptionsFromFlags(opts);
      const security = registrySecurity(opts, opts.listen, ctx.io.env, (line) => ctx.io.err(`${line}\n`));
      // Loaded on demand: client commands should not pay for (or depend on) the daemon's code.
      const { runRegistryDaemon } = await import('../../registry/daemon.js');
      const storeFactory = etcd === undefined ? undefined : (await import('../../registry/etcd-store.js')).etcdStoreFactory(etcd);
      await runRegistryDaemon({
        listen: opts.listen,
        dataDir: opts.dataDir ?? defaultDataDir(ctx.io.env),
        log: (line) => ctx.io.err(`${line}\n`),
        ...(storeFactory ? { storeFactory } : {}),
        ...security,
        ...(opts.issuer === undefined ? {} : { identity: { issuerDir: opts.issuer, certTtlMs: opts.certTtl ?? DEFAULT_CERT_TTL_MS } }),
      });
    });

  addJsonOption(addRegistryClientOptions(
    registry
      .command('status')
      .description('Show a running registry\'s version, uptime, index, store and counts.'),
  ))
    .addHelpText('after', '\nExample:\n  mesh registry status --registry http://127.0.0.1:8500 --json\n')
    .action(async (opts: RegistryClientFlags & { json?: boolean }) => {
      const client = registryClient(opts);
      try {
        const status = await client.status();
        ctx.io.out(opts.json ? `${JSON.stringify(status, null, 2)}\n` : renderRegistryStatus(status, client.url));
      } finally {
        await client.close();
      }
    });
}
