// `mesh services` lists services with health counts; `mesh services <service>` lists one service's instances.
import type { Command } from 'commander';
import { addJsonOption, addRegistryClientOptions, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';

export function registerServicesCommand(program: Command, ctx: CommandContext): void {
  addJsonOption(addRegistryClientOptions(
    program
      .command('services')
      .description('List the registered services with their instance and health counts, or one service\'s instances.')
      .argument('[service]', 'Show this service\'s instances: address, weight, priority, zone, tags, health and last heartbeat.'),
  ))
    .addHelpText('after', '\nExamples:\n  mesh services\n  mesh services orders --json\n')
    .action(async (service: string | undefined, opts: RegistryClientFlags & { json?: boolean }) => (await import('../actions/services.js')).services(ctx, service, opts));
}
