// What `mesh check` does once its flags are parsed (registered in ../commands/check.ts).
import chalk from 'chalk';
import { runChecks } from '../checks.js';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { renderChecks } from '../render/check.js';
import { renderJson } from '../render/routes.js';

export interface CheckFlags extends RegistryClientFlags { proxy: string; caDir?: string; cert?: string[]; config?: string; policy?: string; json?: boolean }

export async function check(ctx: CommandContext, opts: CheckFlags): Promise<void> {
  const results = await runChecks({
    registry: opts.registry, ...(opts.token ? { token: opts.token } : {}), ...(opts.ca ? { ca: opts.ca } : {}),
    proxy: opts.proxy, ...(opts.caDir ? { caDir: opts.caDir } : {}), certs: opts.cert ?? [],
    ...(opts.config ? { config: opts.config } : {}), ...(opts.policy ? { policy: opts.policy } : {}),
  });
  const ok = results.every((r) => r.ok);
  ctx.io.out(opts.json ? renderJson({ ok, checks: results }) : renderChecks(results, { color: ctx.io.stdoutIsTTY && chalk.level > 0 }));
  if (!ok) process.exitCode = 1;
}
