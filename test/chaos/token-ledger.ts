// Bootstrap tokens under the chaos run: one created every 2 s through the hosts' daemons in turn, and
// every third step an earlier one revoked through another daemon; the acknowledged creations and revocations
// are remembered. After each fault: every acknowledged token is listed by every daemon, every acknowledged
// revocation holds on every daemon (listed as revoked, and a first certificate asked with it is refused by each),
// and a fresh single-use token asked for a certificate at all three daemons at the same moment is spent once.
import { newWorkload } from '../helpers/identity.js';
import type { Host } from './hosts.js';
import { WriteLoop } from './write-loop.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STEP_MS = 2_000;
const SIGN_TIMEOUT_MS = 15_000;

export interface TokenAudit {
  /** Acknowledged tokens some daemon does not list: must be 0. */
  lost: number;
  /** Acknowledged revocations some daemon does not hold (listed unrevoked, or a certificate issued): must be 0. */
  unrevoked: number;
}

interface SignOutcome { status: number; code?: string }

/** POST /v1/identity/sign with a generous timeout: a call that timed out might still have spent the token. */
async function signAt(h: Host, body: unknown): Promise<SignOutcome> {
  try {
    const res = await fetch(`${h.registryUrl}/v1/identity/sign`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(SIGN_TIMEOUT_MS),
    });
    const answer = (await res.json()) as { error?: { code: string } };
    return { status: res.status, ...(answer.error ? { code: answer.error.code } : {}) };
  } catch (err) {
    return { status: 0, code: (err as Error).name };
  }
}

async function retried<T>(fn: () => Promise<T>, tries = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try { return await fn(); } catch (err) { if (i >= tries) throw err; await sleep(500); }
  }
}

export class TokenLedger extends WriteLoop {
  /** Acknowledged tokens: id → the token (secret included, to try revoked ones). */
  readonly created = new Map<string, string>();
  readonly revoked = new Set<string>();

  constructor(private readonly hosts: Host[]) { super(STEP_MS, 5_000); }

  /** Every third step revokes an earlier token through the next daemon; the others create one. */
  protected async step(n: number): Promise<boolean> {
    const victim = n % 3 === 2 ? [...this.created.keys()].find((id) => !this.revoked.has(id)) : undefined;
    try {
      if (victim !== undefined) {
        await this.hosts[(n + 1) % this.hosts.length]!.client.revokeToken(victim);
        this.revoked.add(victim);
      } else {
        const t = await this.hosts[n % this.hosts.length]!.client.createToken({ service: 'ledger', ttlMs: 3_600_000 });
        this.created.set(t.id, t.token);
      }
      return true;
    } catch {
      // Not acknowledged: it may or may not have happened; only acknowledgements are promises.
      return false;
    }
  }

  async audit(): Promise<TokenAudit> {
    const lost = new Set<string>();
    const unrevoked = new Set<string>();
    for (const h of this.hosts) {
      const listed = new Map((await retried(() => h.client.listTokens())).tokens.map((t) => [t.id, t]));
      for (const id of this.created.keys()) if (!listed.has(id)) lost.add(id);
      for (const id of this.revoked) if (listed.get(id)?.revokedAt == null) unrevoked.add(id);
    }
    // The latest revoked token, tried for a first certificate at every daemon: each must refuse it.
    const latest = [...this.revoked].at(-1);
    if (latest !== undefined) {
      const w = await newWorkload();
      const tries = await Promise.all(this.hosts.map((h) => signAt(h, { csr: w.csrPem, token: this.created.get(latest) })));
      if (tries.some((t) => t.status === 200)) unrevoked.add(latest);
    }
    return { lost: lost.size, unrevoked: unrevoked.size };
  }

  /**
   * A new single-use token, asked for a certificate at every daemon at once: how many certificates were issued
   * (must be 1) and what the others answered.
   */
  async spendOnce(): Promise<{ issued: number; refusals: string[] }> {
    let token: string | undefined;
    for (let i = 0; token === undefined && i < 100; i++) {
      try { token = (await this.hosts[i % this.hosts.length]!.client.createToken({ service: 'ledger', uses: 1, ttlMs: 600_000 })).token; } catch { await sleep(100); }
    }
    if (token === undefined) return { issued: 0, refusals: ['could not create the token'] };
    const csrs = await Promise.all(this.hosts.map(() => newWorkload()));
    const tries = await Promise.all(this.hosts.map((h, i) => signAt(h, { csr: csrs[i]!.csrPem, token })));
    return { issued: tries.filter((t) => t.status === 200).length, refusals: tries.filter((t) => t.status !== 200).map((t) => t.code ?? String(t.status)) };
  }
}
