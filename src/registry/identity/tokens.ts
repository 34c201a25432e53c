// Bootstrap tokens: what a workload presents once to get its first certificate (as kubeadm's bootstrap tokens
// and Consul's auto-encrypt intro tokens do). A token is "<id>.<secret>": the id is public (it names the token
// in `mesh token list`, in logs and in the certificates it authorised), the secret is 256 random bits shown
// once. The registry keeps only SHA-256(secret) — a fast hash is enough for a random 256-bit secret, nothing
// to brute-force offline — and compares it in constant time after looking the token up by id, so the lookup
// itself reveals nothing about the secret.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { MeshError } from '../../core/errors.js';

export interface TokenRecord {
  id: string;
  /** The one service this token authorises certificates for. */
  service: string;
  /** Hex SHA-256 of the secret. */
  hash: string;
  createdAt: number;
  /** After this (epoch ms) the token gets no first certificate; certificates it authorised still renew. */
  expiresAt: number;
  /** null = unlimited. */
  maxUses: number | null;
  uses: number;
  /** When revoked (epoch ms): no more certificates, first or renewed, for anything it authorised. */
  revokedAt: number | null;
}

/** What `mesh token list` shows: everything but the hash. */
export type TokenView = Omit<TokenRecord, 'hash'>;

const ID = /^[0-9a-f]{12}$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function newToken(service: string, ttlMs: number, maxUses: number | null, now: number): { token: string; record: TokenRecord } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return {
    token: `${id}.${secret}`,
    record: { id, service, hash: hashSecret(secret), createdAt: now, expiresAt: now + ttlMs, maxUses, uses: 0, revokedAt: null },
  };
}

export function isTokenId(id: string): boolean {
  return ID.test(id);
}

/** Splits "<id>.<secret>"; null when it cannot be a token (then it is simply a wrong token). */
export function parseToken(text: unknown): { id: string; secret: string } | null {
  if (typeof text !== 'string') return null;
  const dot = text.indexOf('.');
  const id = text.slice(0, dot);
  const secret = text.slice(dot + 1);
  return dot > 0 && ID.test(id) && SECRET.test(secret) ? { id, secret } : null;
}

export function secretMatches(record: TokenRecord, secret: string): boolean {
  return timingSafeEqual(Buffer.from(hashSecret(secret), 'hex'), Buffer.from(record.hash, 'hex'));
}

const invalid = () => new MeshError('MESH_ERR_TOKEN_INVALID', 'the bootstrap token is not valid for this registry');

/**
 * One use of a token for a first certificate: the record after the use, or the refusal. The secret is
 * checked before anything else, so only the holder of the secret learns that a token is revoked or used up.
 */
export function useToken(record: TokenRecord | undefined, secret: string, now: number): TokenRecord {
  if (record === undefined || !secretMatches(record, secret)) throw invalid();
  if (record.revokedAt !== null) throw new MeshError('MESH_ERR_TOKEN_REVOKED', `bootstrap token ${record.id} was revoked`);
  if (now >= record.expiresAt) throw new MeshError('MESH_ERR_TOKEN_INVALID', `bootstrap token ${record.id} expired at ${new Date(record.expiresAt).toISOString()}`, { hint: 'create a new one with `mesh token create`' });
  if (record.maxUses !== null && record.uses >= record.maxUses) {
    throw new MeshError('MESH_ERR_TOKEN_USED_UP', `bootstrap token ${record.id} has been used ${record.uses} time${record.uses === 1 ? '' : 's'}, its limit`, { hint: 'create a new one with `mesh token create`' });
  }
  return { ...record, uses: record.uses + 1 };
}

export function viewOf(record: TokenRecord): TokenView {
  const { hash: _h, ...view } = record;
  return view;
}
