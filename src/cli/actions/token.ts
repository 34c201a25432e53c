// What `mesh token create | list | revoke` do once their flags are parsed (registered in ../commands/token.ts).
import { UsageError } from '../../core/errors.js';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';
import { renderTokenCreated, renderTokenTable } from '../render/tokens.js';

/** A token can authorise first certificates for a day unless --ttl says otherwise. */
const DEFAULT_TOKEN_TTL_MS = 24 * 3_600_000;

export type TokenCreateFlags = RegistryClientFlags & { service: string; ttl?: number; uses?: number; json?: boolean };
export type TokenListFlags = RegistryClientFlags & { json?: boolean };

export async function tokenCreate(ctx: CommandContext, opts: TokenCreateFlags): Promise<void> {
  const ttlMs = opts.ttl ?? DEFAULT_TOKEN_TTL_MS;
  if (ttlMs < 1000) throw new UsageError('--ttl: use at least 1s');
  const client = registryClient(opts);
  try {
    const created = await client.createToken({ service: opts.service, ttlMs, ...(opts.uses === undefined ? {} : { uses: opts.uses }) });
    if (opts.json) { ctx.io.out(`${JSON.stringify(created, null, 2)}\n`); return; }
    ctx.io.out(`${created.token}\n`);
    ctx.io.err(renderTokenCreated(created));
  } finally {
    await client.close();
  }
}

export async function tokenList(ctx: CommandContext, opts: TokenListFlags): Promise<void> {
  const client = registryClient(opts);
  try {
    const { tokens } = await client.listTokens();
    ctx.io.out(opts.json ? `${JSON.stringify(tokens, null, 2)}\n` : renderTokenTable(tokens, Date.now()));
  } finally {
    await client.close();
  }
}

export async function tokenRevoke(ctx: CommandContext, id: string, opts: TokenListFlags): Promise<void> {
  if (!/^[0-9a-f]{12}$/.test(id)) throw new UsageError(`<id>: invalid token id "${id}": use the 12 hex digits \`mesh token list\` shows`);
  const client = registryClient(opts);
  try {
    const res = await client.revokeToken(id);
    ctx.io.out(opts.json ? `${JSON.stringify(res.token, null, 2)}\n` : `revoked bootstrap token ${id} (service ${res.token.service})\n`);
  } finally {
    await client.close();
  }
}
