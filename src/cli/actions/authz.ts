// What `mesh authz test` does once its flags are parsed (registered in ../commands/authz.ts).
import chalk from 'chalk';
import { loadPolicyFile, policyFromDocument } from '../../authz/load.js';
import { evaluate, UNAUTHENTICATED, type Policy } from '../../authz/policy.js';
import { UsageError } from '../../core/errors.js';
import { validateServiceName } from '../../core/validate.js';
import { flagParser, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';
import { authzTestView, renderAuthzTest, renderJson } from '../render/authz.js';

export interface AuthzTestFlags extends RegistryClientFlags { policy?: string; central?: boolean; from: string; to: string; expect?: 'allow' | 'deny'; json?: boolean }

const METHOD = /^[A-Za-z]+$/;

export async function authzTest(ctx: CommandContext, method: string, path: string, opts: AuthzTestFlags): Promise<void> {
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
}

/** The registry's central policy, or null when it has none (then every call is allowed). */
async function centralPolicy(flags: RegistryClientFlags): Promise<Policy | null> {
  const client = registryClient(flags);
  try {
    const { config } = await client.config();
    return config.authz === null ? null : policyFromDocument(config.authz);
  } finally {
    await client.close();
  }
}
