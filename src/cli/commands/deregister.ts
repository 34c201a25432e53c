// `mesh deregister <service> <id>`: removes one instance at once (its watchers see a `remove`).
import type { Command } from 'commander';
import { addJsonOption, addRegistryClientOptions, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';

export function registerDeregisterCommand(program: Command, ctx: CommandContext): void {
  addJsonOption(addRegistryClientOptions(
    program
      .command('deregister')
      .description('Remove an instance from the registry; fails if the registry has no such instance.')
      .argument('<service>', 'The service name.')
      .argument('<id>', 'The instance id, as `mesh services <service>` lists it.'),
  ))
    .addHelpText('after', '\nExample:\n  mesh deregister orders orders-127.0.0.1-8080\n')
    .action(async (service: string, id: string, opts: RegistryClientFlags & { json?: boolean }) => (await import('../actions/deregister.js')).deregister(ctx, service, id, opts));
}
