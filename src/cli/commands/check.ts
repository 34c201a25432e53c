// `mesh check`: is the mesh healthy? Registry, proxy, CA and certificates, config and policy files — one
// ✓/× line each, a hint under each ×, exit 1 when any fails.
import type { Command } from 'commander';
import chalk from 'chalk';
import { addJsonOption, addRegistryClientOptions, collect, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { addProxyOption } from '../proxy-flags.js';
import { renderChecks } from '../render/check.js';
import { renderJson } from '../render/routes.js';

interface CheckFlags extends RegistryClientFlags { proxy: string; caDir?: string; cert?: string[]; config?: string; policy?: string; json?: boolean }

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
    .action(async (opts: CheckFlags) => {
      const { runChecks } = await import('../checks.js'); // loads X.509, config and policy parsers only when run
      const results = await runChecks({
        registry: opts.registry, ...(opts.token ? { token: opts.token } : {}), ...(opts.ca ? { ca: opts.ca } : {}),
        proxy: opts.proxy, ...(opts.caDir ? { caDir: opts.caDir } : {}), certs: opts.cert ?? [],
        ...(opts.config ? { config: opts.config } : {}), ...(opts.policy ? { policy: opts.policy } : {}),
      });
      const ok = results.every((r) => r.ok);
      ctx.io.out(opts.json ? renderJson({ ok, checks: results }) : renderChecks(results, { color: ctx.io.stdoutIsTTY && chalk.level > 0 }));
      if (!ok) process.exitCode = 1;
    });
}
