// `mesh config get|apply|history|rollback|delete`: the registry's central config (see CENTRAL CONFIG in man
// mesh). Registration only: the actions load their modules when they run, so `mesh --help` stays cheap.
import { Option, type Command } from 'commander';
import type { ConfigFlags } from '../actions/config.js';
import { addJsonOption, addRegistryClientOptions, intFlag } from '../common.js';
import { helpNotes } from '../help.js';
import type { CommandContext } from '../context.js';

export function registerConfigCommand(program: Command, ctx: CommandContext): void {
  const config = program.command('config')
    .description('Read and change the central config that every proxy follows: per-service timeouts, retries, outlier detection, limits and route splits.')
    .addHelpText('after', '\nExamples:\n  mesh config apply -f mesh.yaml --dry-run\n  mesh config get orders\n  mesh config history\n  mesh config rollback 42\n');
  const actions = () => import('../actions/config.js');

  addJsonOption(addRegistryClientOptions(config.command('get')
    .description('Print the config version in force (YAML), or one service\'s entry.')
    .argument('[service]', 'Print only this service\'s entry.')))
    .addHelpText('after', '\nExamples:\n  mesh config get\n  mesh config get orders --json\n')
    .action(async (service: string | undefined, opts: ConfigFlags) => (await actions()).configGet(ctx, service, opts));

  addJsonOption(addRegistryClientOptions(config.command('apply')
    .description('Apply a config document (the proxy config file format): each service it names, and its defaults, replace the stored ones; the rest stay. Prints what changes, per service.')
    .addOption(new Option('-f, --file <file>', 'The document (YAML or JSON), as a proxy\'s --config file.').makeOptionMandatory())
    .option('--dry-run', 'Validate and print what would change; apply nothing.')))
    .addHelpText('after', helpNotes('\nExit status: 0 applied (or nothing to change), 1 refused (the registry names the field at fault; nothing changed).', ctx.helpWidth))
    .addHelpText('after', '\nExamples:\n  mesh config apply -f mesh.yaml --dry-run\n  mesh config apply -f mesh.yaml\n')
    .action(async (opts: ConfigFlags) => (await actions()).configApply(ctx, opts, 'proxy'));

  addJsonOption(addRegistryClientOptions(config.command('history')
    .description('List the kept config versions, newest first, with what each changed.')))
    .addHelpText('after', '\nExample:\n  mesh config history\n')
    .action(async (opts: ConfigFlags) => (await actions()).configHistory(ctx, opts));

  addJsonOption(addRegistryClientOptions(config.command('rollback')
    .description('Make a kept version the one in force again (as a new version).')
    .argument('<version>', 'A version from `mesh config history`.', intFlag('<version>', 1, Number.MAX_SAFE_INTEGER))))
    .addHelpText('after', '\nExample:\n  mesh config rollback 42\n')
    .action(async (version: number, opts: ConfigFlags) => (await actions()).configRollback(ctx, version, opts));

  addJsonOption(addRegistryClientOptions(config.command('delete')
    .description('Remove one service\'s entry; the service falls back to the defaults.')
    .argument('<service>', 'The service whose entry to remove.')))
    .addHelpText('after', '\nExample:\n  mesh config delete orders\n')
    .action(async (service: string, opts: ConfigFlags) => (await actions()).configDelete(ctx, service, opts));
}
