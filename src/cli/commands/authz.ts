// `mesh authz test`: evaluates the authorization policy for one imagined request, sending no traffic.
// The decision is data: the command exits 0 whether the call is allowed or denied (like `opa eval`), unless
// --expect says which decision a script requires, in which case a different decision exits 1.
import { Option, type Command } from 'commander';
import chalk from 'chalk';
import { loadPolicyFile } from '../../authz/load.js';
import { evaluate, UNAUTHENTICATED, type Policy } from '../../authz/policy.js';
import { validateServiceName } from '../../core/validate.js';
import { UsageError } from '../../core/errors.js';
import { addJsonOption, addRegistryClientOptions, flagParser, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { authzTestView, renderAuthzTest, renderJson } from '../render/authz.js';

const METHOD = /^[A-Za-z]+$/;

export function registerAuthzCommand(program: Command, ctx: CommandContext): void {
  const authz = program.command('authz').description('Work with the authorization policy that inbound sidecars enforce.')
    .addHelpText('after', '\nExample:\n  mesh authz test --policy policy.yaml --from web --to orders GET /orders/42\n');
  addJsonOption(addRegistryClientOptions(authz.command('apply')
    .description('Make a policy file the central policy, which every sidecar started without --policy enforces (it replaces the central policy whole; a new config version).')
    .addOption(new Option('-f, --file <file>', 'The policy (YAML or JSON), in the --policy file format.').makeOptionMandatory())
    .option('--dry-run', 'Validate and print what would change; apply nothing.')))
    .addHelpText('after', '\nExamples:\n  mesh authz apply -f policy.yaml --dry-run\n  mesh authz apply -f policy.yaml\n')
    .action(async (opts: RegistryClientFlags & { file: string; dryRun?: boolean; json?: boolean }) => (await import('../config/actions.js')).configApply(ctx.io, opts, 'authz'));
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
    .addHelpText('after', '\nExit status: 0 when the decision was made (allowed or denied), 1 when --expect does not match or the policy\nfile is unreadable or invalid, 2 for bad arguments.\n\nExamples:\n  mesh authz test --policy policy.yaml --from web --to orders GET /orders/42\n  mesh authz test --policy policy.yaml --from web --to orders DELETE /orders/42 --expect deny\n  mesh authz test --central --from web --to orders GET /orders/42\n')
    .action(async (method: string, path: string, opts: RegistryClientFlags & { policy?: string; central?: boolean; from: string; to: string; expect?: 'allow' | 'deny'; json?: boolean }) => {
      if (opts.central && opts.policy !== undefined) throw new UsageError('--central and --policy both name a policy: give one');
      if (!METHOD.test(method)) throw new UsageError(`<method>: invalid HTTP method "${method}": use a word such as GET or POST`);
      if (path === '') throw new UsageError('<path>: give a request path such as /orders/42');
      const from = opts.from === UNAUTHENTICATED ? null : flagParser('--from', validateServiceName)(opts.from);
      const policy: Policy | null = opts.central ? await centralPolicy(opts) : opts.policy ? loadPolicyFile(opts.policy) : null;
      const req = { from, to: opts.to, method: method.toUpperCase(), path };
      const view = authzTestView(opts.central ? `${opts.registry} (central policy)` : opts.policy ?? null, req, evaluate(policy, req));
      ctx.io.out(opts.json ? renderJson(view) : renderAuthzTest(view, { color: ctx.io.stdoutIsTTY && chalk.level > 0 }));
      if (opts.expect !== undefined && opts.expect !== view.decision) {
        ctx.io.err(`mesh: expected ${opts.expect} but the policy says ${view.decision} (${view.rule})\n`);
        process.exitCode = 1;
      }
    });
}

/** The registry's central policy, or null when it has none (then every call is allowed). */
async function centralPolicy(flags: RegistryClientFlags): Promise<Policy | null> {
  const { registryClient } = await import('../registry-flags.js');
  const { policyFromDocument } = await import('../../authz/load.js');
  const client = registryClient(flags);
  try {
    const { config } = await client.config();
    return config.authz === null ? null : policyFromDocument(config.authz);
  } finally {
    await client.close();
  }
}
