// `mesh registry start` runs the registry daemon in the foreground; `mesh registry status` asks a running one;
// `mesh registry repair` salvages a data dir whose journal or snapshot is damaged.
import { Option, type Command } from 'commander';
import { DEFAULTS } from '../../core/types.js';
import type { RegistryRepairFlags, RegistryStartFlags } from '../actions/registry.js';
import { addJsonOption, addRegistryClientOptions, durationFlag, type RegistryClientFlags } from '../common.js';
import { addDnsOptions } from '../dns-flags.js';
import { addEtcdOptions } from '../etcd-flags.js';
import type { CommandContext } from '../context.js';
import { addRegistrySecurityOptions } from '../registry-security.js';

export function registerRegistryCommand(program: Command, ctx: CommandContext): void {
  const registry = program
    .command('registry')
    .description('Run the registry daemon, or ask a running one how it is doing.')
    .addHelpText('after', '\nExamples:\n  mesh registry start --data-dir /tmp/mesh-reg\n  mesh registry status --json\n  mesh registry repair --data-dir /tmp/mesh-reg\n');

  addDnsOptions(addRegistrySecurityOptions(addEtcdOptions(registry
    .command('start')
    .description('Run the registry daemon in the foreground until SIGTERM or SIGINT. It keeps every acknowledged registration in a durable journal in the data dir (or, with --store etcd, in etcd, shared with the other daemons on the same prefix), runs health checks, and serves the /v1 HTTP API.')
    .addOption(new Option('--listen <host:port>', 'The address the API listens on; keep it on loopback unless the API is protected.').env('MESH_REGISTRY_LISTEN').default(DEFAULTS.registryListen))
    .addOption(new Option('--data-dir <dir>', 'Where the journal and snapshot live (default: $XDG_STATE_HOME/mesh/registry, else ~/.local/state/mesh/registry). Two daemons never share one.').env('MESH_REGISTRY_DATA_DIR'))
    // -- identity (registry-issued certificates) --
    .addOption(new Option('--issuer <dir>', 'Issue workload certificates (POST /v1/identity/sign) with the issuer in this directory, from `mesh certs ca issuer`; it must be mode 0700. Without it the identity API answers 503.').env('MESH_REGISTRY_ISSUER'))
    .addOption(new Option('--cert-ttl <duration>', 'The lifetime of the certificates this registry issues (default 24h; e.g. 1h, 60s). Workloads renew at 50-70% of it.').argParser(durationFlag('--cert-ttl'))))))
    .addHelpText('after', '\nExamples:\n  mesh registry start --listen 127.0.0.1:8500 --data-dir /var/lib/mesh/registry\n  mesh registry start --store etcd --etcd-endpoints http://10.0.0.1:2379,http://10.0.0.2:2379\n  mesh registry start --dns 127.0.0.1:8600 --services-dir /etc/mesh/services\n  mesh registry start --issuer ./issuer --cert-ttl 1h\n')
    .action(async (opts: RegistryStartFlags) => (await import('../actions/registry.js')).registryStart(ctx, opts));

  addJsonOption(addRegistryClientOptions(
    registry
      .command('status')
      .description('Show a running registry\'s version, uptime, index, store and counts.'),
  ))
    .addHelpText('after', '\nExample:\n  mesh registry status --registry http://127.0.0.1:8500 --json\n')
    .action(async (opts: RegistryClientFlags & { json?: boolean }) => (await import('../actions/registry.js')).registryStatus(ctx, opts));

  addJsonOption(registry
    .command('repair')
    .description('Salvage a data dir the daemon refuses to start on because its journal or snapshot is damaged: it saves the journal as journal.log.corrupt-<time>, rewrites it with every record that reads back valid, and reports what it kept and dropped. It refuses to run while a daemon holds the data dir.')
    .addOption(new Option('--data-dir <dir>', 'The data dir to repair (default: the one `mesh registry start` uses).').env('MESH_REGISTRY_DATA_DIR'))
    .option('--discard-snapshot', 'If snapshot.json is corrupt, set it aside as snapshot.json.corrupt-<time> and keep only the journal\'s records (the registrations it held are lost); a readable snapshot is never touched.'))
    .addHelpText('after', '\nExamples:\n  mesh registry repair --data-dir /var/lib/mesh/registry\n  mesh registry repair --data-dir /var/lib/mesh/registry --discard-snapshot --json\n')
    .action(async (opts: RegistryRepairFlags) => (await import('../actions/registry.js')).registryRepair(ctx, opts));
}
