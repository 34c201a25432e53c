// `mesh registry start` runs the registry daemon in the foreground; `mesh registry status` asks a running one.
import { Option, type Command } from 'commander';
import { DEFAULTS } from '../../core/types.js';
import type { RegistryStartFlags } from '../actions/registry.js';
import { addJsonOption, addRegistryClientOptions, type RegistryClientFlags } from '../common.js';
import { addEtcdOptions } from '../etcd-flags.js';
import type { CommandContext } from '../program.js';
import { addRegistrySecurityOptions } from '../registry-security.js';

export function registerRegistryCommand(program: Command, ctx: CommandContext): void {
  const registry = program
    .command('registry')
    .description('Run the registry daemon, or ask a running one how it is doing.')
    .addHelpText('after', '\nExamples:\n  mesh registry start --data-dir /tmp/mesh-reg\n  mesh registry status --json\n');

  addRegistrySecurityOptions(addEtcdOptions(registry
    .command('start')
    .description('Run the registry daemon in the foreground until SIGTERM or SIGINT. It keeps every acknowledged registration in a durable journal in the data dir (or, with --store etcd, in etcd, shared with the other daemons on the same prefix), runs health checks, and serves the /v1 HTTP API.')
    .addOption(new Option('--listen <host:port>', 'The address the API listens on; keep it on loopback unless the API is protected.').env('MESH_REGISTRY_LISTEN').default(DEFAULTS.registryListen))
    .addOption(new Option('--data-dir <dir>', 'Where the journal and snapshot live (default: $XDG_STATE_HOME/mesh/registry, else ~/.local/state/mesh/registry). Two daemons never share one.').env('MESH_REGISTRY_DATA_DIR'))))
    .addHelpText('after', '\nExamples:\n  mesh registry start --listen 127.0.0.1:8500 --data-dir /var/lib/mesh/registry\n  mesh registry start --store etcd --etcd-endpoints http://10.0.0.1:2379,http://10.0.0.2:2379\n')
    .action(async (opts: RegistryStartFlags) => (await import('../actions/registry.js')).registryStart(ctx, opts));

  addJsonOption(addRegistryClientOptions(
    registry
      .command('status')
      .description('Show a running registry\'s version, uptime, index, store and counts.'),
  ))
    .addHelpText('after', '\nExample:\n  mesh registry status --registry http://127.0.0.1:8500 --json\n')
    .action(async (opts: RegistryClientFlags & { json?: boolean }) => (await import('../actions/registry.js')).registryStatus(ctx, opts));
}
