// `mesh fault inject|list|clear`: time-boxed fault injection through the registry (see FAULT INJECTION in man
// mesh). Registration only; the actions load their modules when they run.
import { Option, type Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { FaultFlags } from '../actions/fault.js';
import { addJsonOption, addRegistryClientOptions, durationFlag, intFlag } from '../common.js';
import type { CommandContext } from '../context.js';

function percentFlag(v: string): number {
  const n = Number(v.replace(/%$/, ''));
  if (!/^\d+(\.\d+)?%?$/.test(v) || !(n > 0 && n <= 100)) throw new UsageError(`--percent: "${v}" must be a number above 0 and at most 100, e.g. 10`);
  return n;
}

export function registerFaultCommand(program: Command, ctx: CommandContext): void {
  const fault = program.command('fault')
    .description('Inject time-boxed faults (aborts, resets, delays) that every proxy applies until they expire.')
    .addHelpText('after', '\nExamples:\n  mesh fault inject orders --abort 503 --percent 10 --for 5m\n  mesh fault list\n  mesh fault clear\n');
  const actions = () => import('../actions/fault.js');

  addJsonOption(addRegistryClientOptions(fault.command('inject')
    .description('Make every proxy answer a share of a service\'s requests with an abort, a reset or a delay, until the fault expires.')
    .argument('<service>', 'The service whose requests are hit.')
    .option('--route <prefix>', 'Only requests whose path is under this prefix, e.g. /api.')
    .option('--from <service>', 'Only requests from this calling service: applied by proxies running with its certificate.')
    .addOption(new Option('--abort <status>', 'Answer with this HTTP status (400 to 599), from the proxy, without calling the service.').argParser(intFlag('--abort', 400, 599)))
    .option('--reset', 'Close the client\'s connection without an answer.')
    .addOption(new Option('--delay <duration>', 'Hold the request this long (e.g. 200ms), then forward it as usual.').argParser(durationFlag('--delay')))
    .addOption(new Option('--percent <n>', 'The share of matching requests hit, above 0 and at most 100.').argParser(percentFlag).makeOptionMandatory())
    .addOption(new Option('--for <duration>', 'How long the fault lasts (required; at most 1h unless --allow-long).').argParser(durationFlag('--for')))
    .option('--allow-long', 'Allow --for up to 7 days.')))
    .addHelpText('after', '\nExamples:\n  mesh fault inject orders --abort 503 --percent 10 --for 5m\n  mesh fault inject orders --route /checkout --delay 300ms --percent 50 --for 2m\n')
    .action(async (service: string, opts: FaultFlags) => (await actions()).faultInject(ctx, service, opts));

  addJsonOption(addRegistryClientOptions(fault.command('list')
    .description('List the active faults with their expiry.')))
    .addHelpText('after', '\nExample:\n  mesh fault list --json\n')
    .action(async (opts: FaultFlags) => (await actions()).faultList(ctx, opts));

  addJsonOption(addRegistryClientOptions(fault.command('clear')
    .description('End one fault now, or every fault when no id is given.')
    .argument('[id]', 'The fault id from `mesh fault list`.')))
    .addHelpText('after', '\nExamples:\n  mesh fault clear f-1a2b3c4d\n  mesh fault clear\n')
    .action(async (id: string | undefined, opts: FaultFlags) => (await actions()).faultClear(ctx, id, opts));
}
