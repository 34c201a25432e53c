// `mesh check`: is the mesh healthy? Registry, proxy, CA and certificates, config and policy files — one
// ✓/× line each, a hint under each ×, exit 1 when any fails.
import type { Command } from 'commander';
import type { CheckFlags } from '../actions/check.js';
import { addJsonOption, addRegistryClientOptions, collect } from '../common.js';
import type { CommandContext } from '../context.js';
import { addProxyOption } from '../proxy-flags.js';

export function registerCheckCommand(program: Command, ctx: CommandContext): void {
  addJsonOption(addProxyOption(addRegistryClientOptions(
    program
      .command('check')
      .description('Check that the mesh is healthy: the registry and the proxy answer, the CA and certificates are valid and not close to expiry, and the config and policy files are valid. Exits 1 when any check fails.')
      .option('--ca-dir <dir>', 'Check the mesh CA in this directory (and that each --cert was issued by it).')
      .option('--cert <file>', 'Check this service certificate (PEM): a mesh identity (an end-entity certificate with one SPIFFE ID, usable as TLS server and client), in the trust domain of --ca-dir\'s CA; repeat for several.', collect((v: string) => v))
      .option('--config <file>', 'Check this proxy config file (JSON or YAML).')
      .option('--policy <file>', 'Check this authorization policy file.'),
  )))
    .addHelpText('after', '\nExamples:\n  mesh check\n  mesh check --ca-dir mesh-ca --cert certs/orders.pem --config mesh.yaml --policy policy.yaml\n  mesh check --json\n')
    .action(async (opts: CheckFlags) => (await import('../actions/check.js')).check(ctx, opts));
}
