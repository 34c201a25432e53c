// Pure renderers for `mesh token`: the table and --json come from the same TokenView values.
import type { TokenView } from '../../registry/identity/tokens.js';
import { plainTable } from './table.js';

export function tokenState(t: TokenView, now: number): 'revoked' | 'expired' | 'used-up' | 'active' {
  if (t.revokedAt !== null) return 'revoked';
  if (now >= t.expiresAt) return 'expired';
  if (t.maxUses !== null && t.uses >= t.maxUses) return 'used-up';
  return 'active';
}

export function renderTokenTable(tokens: TokenView[], now: number): string {
  if (tokens.length === 0) return 'no bootstrap tokens (create one with `mesh token create --service <name>`)\n';
  return plainTable(['ID', 'SERVICE', 'USES', 'EXPIRES', 'STATE'], tokens.map((t) => [
    t.id, t.service, `${t.uses}/${t.maxUses ?? '∞'}`, new Date(t.expiresAt).toISOString(), tokenState(t, now),
  ]));
}

/** The stderr note after `mesh token create` (stdout carries only the secret, for `$(…)`). */
export function renderTokenCreated(t: TokenView): string {
  const uses = t.maxUses === null ? 'unlimited uses' : `${t.maxUses} use${t.maxUses === 1 ? '' : 's'}`;
  return `mesh: created bootstrap token ${t.id} for service ${t.service} (${uses}, expires ${new Date(t.expiresAt).toISOString()}); the secret above is shown only once, the registry keeps its hash\n`;
}
