// `mesh deregister <service> <id>`: removes one instance at once (its watchers see a `remove`).
import type { Command } from 'commander';
import { validateInstanceId, validateServiceName } from '../../core/validate.js';
import { addJsonOption, addRegistryClientOptions, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { registryClient } from '../registry-flags.js';

export function registerDeregisterCommand(program: Command, ctx: CommandContext): void {
  addJsonOption(addRegistryClientOptions(
    program
      .command('deregister')
      .description('Remove an instance from the registry; fails if the registry has no such instance.')
      .argument('<service>', 'The service name.')
      .argument('<id>', 'The instance id, as `mesh services <service>` lists it.'),
  ))
    .addHelpText('after', '\nExample:\n  mesh deregister orders orders-127.0.0.1-8080\n')
    .action(async (service: string, id: string, opts: RegistryClientFlags & { json?: boolean }) => {
      validateServiceName(service);
      validateInstanceId(id);
      const client = registryClient(opts);
      try {
        const res = await client.deregister(service, id);
        ctx.io.out(opts.json ? `${JSON.stringify(res, null, 2)}\n` : `deregistered ${service}/${id} (index ${res.index})\n`);
      } finally {
        await client.close();
      }
    });
}
