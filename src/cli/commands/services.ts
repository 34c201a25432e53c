// `mesh services` lists services with health counts; `mesh services <service>` lists one service's instances.
import type { Command } from 'commander';
import { validateServiceName } from '../../core/validate.js';
import { addJsonOption, addRegistryClientOptions, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { registryClient } from '../registry-flags.js';
import { renderJson, renderServicesTable, renderServiceTable } from '../render/services.js';
import chalk from 'chalk';

export function registerServicesCommand(program: Command, ctx: CommandContext): void {
  addJsonOption(addRegistryClientOptions(
    program
      .command('services')
      .description('List the registered services with their instance and health counts, or one service\'s instances.')
      .argument('[service]', 'Show this service\'s instances: address, weight, priority, zone, tags, health and last heartbeat.'),
  ))
    .addHelpText('after', '\nExamples:\n  mesh services\n  mesh services orders --json\n')
    .action(async (service: string | undefined, opts: RegistryClientFlags & { json?: boolean }) => {
      if (service !== undefined) validateServiceName(service);
      const color = ctx.io.stdoutIsTTY && chalk.level > 0;
      const client = registryClient(opts);
      try {
        if (service === undefined) {
          const view = await client.services();
          ctx.io.out(opts.json ? renderJson(view) : renderServicesTable(view, { color }));
        } else {
          const view = await client.service(service);
          ctx.io.out(opts.json ? renderJson(view) : renderServiceTable(view, { color, now: Date.now() }));
        }
      } finally {
        await client.close();
      }
    });
}
