// `mesh authz test`: evaluates the authorization policy for one imagined request, sending no traffic.
// The decision is data: the command exits 0 whether the call is allowed or denied (like `opa eval`), unless
// --expect says which decision a script requires, in which case a different decision exits 1.
import { Option, type Command } from 'commander';
import { validateServiceName } from '../../core/validate.js';
import type { AuthzTestFlags } from '../actions/authz.js';
import type { ConfigFlags } from '../actions/config.js';
import { addJsonOption, addRegistryClientOptions, flagParser } from '../common.js';
import { helpNotes } from '../help.js';
import type { CommandContext } from '../context.js';

export function registerAuthzCommand(program: Command, ctx: CommandContext): void {
  const authz = program.command('authz').description('Work with the authorization policy that inbound sidecars enforce.')
    .addHelpText('after', '\nExample:\n  mesh authz test --policy policy.yaml --from web --to orders GET /orders/42\n');
  addJsonOption(addRegistryClientOptions(authz.command('apply')
    .description('Make a policy file the central policy, which every sidecar started without --policy enforces (it replaces the central policy whole; a new config version).')
    .addOption(new Option('-f, --file <file>', 'The policy (YAML or JSON), in the --policy file format.').makeOptionMandatory())
    .option('--dry-run', 'Validate and print what would change; apply nothing.')))
    .addHelpText('after', '\nExamples:\n  mesh authz apply -f policy.yaml --dry-run\n  mesh authz apply -f policy.yaml\n')
    .action(async (opts: ConfigFlags) => (await import('../actions/config.js')).configApply(ctx, opts, 'authz'));
  addJsonOption(addRegistryClientOptions(authz
    .command('test')
    .description('Print whether the policy allows a call from one service to another, and the rule that decides it. Sends no traffic.')
    .argument('<method>', 'The HTTP method, e.g. GET.')
    .argument('<path>', 'The request path as a client would send it, e.g. /orders/42; it is normalised as the sidecar does.')
    .addOption(new Option('--policy <file>', 'The policy file (YAML or JSON); without one every call is allowed.').env('MESH_POLICY'))
    .addOption(new Option('--from <service>', 'The calling service, or "unauthenticated" for a plaintext caller in permissive mode.').makeOptionMandatory())
    .addOption(new Option('--to <service>', 'The destination service.').makeOptionMandatory().argParser(flagParser('--to', validateServiceName)))
    .addOption(new Option('--expect <decision>', 'Exit 1 unless the decision is this one (for policy checks in CI).').choices(['allow', 'deny']))
    .option('--central', 'Test the registry\'s central policy (see `mesh authz apply`) instead of a file.')))
    .addHelpText('after', helpNotes('\nExit status: 0 when the decision was made (allowed or denied), 1 when --expect does not match or the policy file is unreadable or invalid, 2 for bad arguments.', ctx.helpWidth))
    .addHelpText('after', '\nExamples:\n  mesh authz test --policy policy.yaml --from web --to orders GET /orders/42\n  mesh authz test --policy policy.yaml --from web --to orders DELETE /orders/42 --expect deny\n  mesh authz test --central --from web --to orders GET /orders/42\n')
    .action(async (method: string, path: string, opts: AuthzTestFlags) => (await import('../actions/authz.js')).authzTest(ctx, method, path, opts));
}

