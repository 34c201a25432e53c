// `mesh shift <service> --to version=v2`: a progressive canary through the central config (see PROGRESSIVE
// CANARY in man mesh). Registration only; the run loads its modules when it starts.
import { Option, type Command } from 'commander';
import { parseTag } from '../../core/validate.js';
import { UsageError } from '../../core/errors.js';
import type { ShiftFlags } from '../actions/shift.js';
import { addRegistryClientOptions, durationFlag, flagParser } from '../common.js';
import { helpNotes } from '../help.js';
import type { CommandContext } from '../context.js';
import { proxyUrlFlag } from '../proxy-flags.js';

const tagFlag = (flag: string) => flagParser(flag, parseTag);

function stepsFlag(v: string): number[] {
  const steps = v.split(',').map((s) => Number(s.trim()));
  if (steps.some((s) => !Number.isInteger(s) || s < 1 || s > 100) || steps.some((s, i) => i > 0 && s <= steps[i - 1]!) || steps[steps.length - 1] !== 100) {
    throw new UsageError(`--steps: "${v}" must be rising whole percentages ending at 100, e.g. 5,25,50,100`);
  }
  return steps;
}

function rateFlag(v: string): number {
  const n = Number(v.replace(/%$/, ''));
  if (!/^\d+(\.\d+)?%?$/.test(v) || n > 100) throw new UsageError(`--max-error-rate: "${v}" must be a percentage from 0 to 100, e.g. 1%`);
  return n / 100;
}

export function registerShiftCommand(program: Command, ctx: CommandContext): void {
  addRegistryClientOptions(program.command('shift')
    .description('Move a service\'s traffic to a canary subset step by step, checking the canary\'s error rate on the proxies between steps and rolling back when it is above the bound.')
    .argument('<service>', 'The service to shift.')
    .addOption(new Option('--to <tag>', 'The canary subset, as key=value (e.g. version=v2).').argParser(tagFlag('--to')))
    .addOption(new Option('--from <tag>', 'The subset traffic leaves (default: the other subset of the service\'s current split).').argParser(tagFlag('--from')))
    .addOption(new Option('--steps <list>', 'Percentages of traffic for the canary, step by step, ending at 100.').argParser(stepsFlag).default([5, 25, 50, 100], '5,25,50,100'))
    .addOption(new Option('--every <duration>', 'How long each step runs before the canary is judged.').argParser(durationFlag('--every')).default(60_000, '1m'))
    .addOption(new Option('--max-error-rate <percent>', 'Roll back when more than this share of the canary\'s requests fail (5xx or no answer).').argParser(rateFlag).default(0.01, '1%'))
    .addOption(new Option('--proxy <url>', 'Admin URL of a proxy whose stats judge the canary (repeat it for several proxies).').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), proxyUrlFlag(v)]))
    .option('--abort', 'Restore the split the newest shift of this service started from, and stop.'))
    .addHelpText('after', helpNotes('\nExit status: 0 when the shift completed (or --abort restored the split), 1 when it was rolled back, 130 when interrupted (the split stays where it was).', ctx.helpWidth))
    .addHelpText('after', '\nExamples:\n  mesh shift orders --to version=v2 --steps 5,25,50,100 --every 1m --max-error-rate 1%\n  mesh shift orders --abort\n')
    .action(async (service: string, opts: ShiftFlags) => (await import('../actions/shift.js')).shift(ctx, service, opts));
}
