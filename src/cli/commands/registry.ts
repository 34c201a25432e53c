// `mesh registry start` runs the registry daemon in the foreground; `mesh registry status` asks a running one.
import { Option, type Command } from 'commander';
import { DEFAULTS } from '../../core/types.js';
import { defaultDataDir } from '../../registry/data-dir.js';
import { addJsonOption, addRegistryClientOptions, type RegistryClientFlags } from '../common.js';
import { addDnsOptions, dnsOptionsFromFlags, type DnsFlags } from '../dns-flags.js';
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

  addDnsOptions(addRegistrySecurityOptions(addEtcdOptions(registry
    .command('start')
    .description('Run the registry daemon in the foreground until SIGTERM or SIGINT. It keeps every acknowledged registration in a durable journal in the data dir (or, with --store etcd, in etcd, shared with the other daemons on the same prefix), runs health checks, and serves the /v1 HTTP API.')
    .addOption(new Option('--listen <host:port>', 'The address the API listens on; keep it on loopback unless the API is protected.').env('MESH_REGISTRY_LISTEN').default(DEFAULTS.registryListen))
    .addOption(new Option('--data-dir <dir>', 'Where the journal and snapshot live (default: $XDG_STATE_HOME/mesh/registry, else ~/.local/state/mesh/registry). Two daemons never share one.').env('MESH_REGISTRY_DATA_DIR')))))
    .addHelpText('after', '\nExamples:\n  mesh registry start --listen 127.0.0.1:8500 --data-dir /var/lib/mesh/registry\n  mesh registry start --store etcd --etcd-endpoints http://10.0.0.1:2379,http://10.0.0.2:2379\n  mesh registry start --dns 127.0.0.1:8600 --services-dir /etc/mesh/services\n')
    .action(async (opts: { listen: string; dataDir?: string } & EtcdFlags & RegistrySecurityFlags & DnsFlags) => {
      const etcd = etcdOptionsFromFlags(opts);
      const discovery = dnsOptionsFromFlags(opts);
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
        ...discovery,
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
