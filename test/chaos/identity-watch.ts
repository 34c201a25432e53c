// The proxies' registry-issued certificates under the chaos run. Every second each proxy's admin server is asked
// for its certificate (/routes: notAfter); at each fault's start and end, for its renewal failures (/metrics:
// mesh_identity_renewal_failures_total).
// A certificate expired while in use when a poll saw it past its notAfter, or when the next one was issued (its
// notAfter minus the lifetime) after it had run out. After each fault the daemons' trust bundles are compared.
import type { RoutesSnapshot } from '../../src/core/admin-types.js';
import { CERT_TTL_MS, type Host } from './hosts.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLL_MS = 1_000;

interface ProxyCerts {
  /** notAfter (ms) of every certificate seen, in the order seen. */
  seen: number[];
  /** notAfter of the certificates that ran out before the next one came. */
  expired: Set<number>;
  /** mesh_identity_renewal_failures_total at the last reading. */
  failures: number;
}

/** What `mark` read: the proxies' renewal failure counters at one moment. */
export type FailureMark = Map<number, number>;

export interface IdentityWindow {
  /** Certificates issued to the proxies in the window (renewals, or a new one bought with the token). */
  renewed: number;
  /** Renewals that failed in the window (all proxies). */
  failed: number;
  /** Certificates that expired in the window before their successor came (all proxies). */
  expired: number;
}

export class IdentityWatch {
  private readonly certs = new Map<number, ProxyCerts>();
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly hosts: Host[]) {}

  start(): void {
    for (const h of this.hosts) {
      this.certs.set(h.n, { seen: [], expired: new Set(), failures: 0 });
      this.loops.push(this.loop(h));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** Reads every proxy's renewal failure counter (a proxy that does not answer keeps its last reading). */
  async mark(): Promise<FailureMark> {
    await Promise.all(this.hosts.map(async (h) => {
      const failures = /^mesh_identity_renewal_failures_total (\d+)/m.exec(await adminGet(h, '/metrics') ?? '')?.[1];
      if (failures !== undefined) this.certs.get(h.n)!.failures = Number(failures);
    }));
    return new Map([...this.certs].map(([n, c]) => [n, c.failures]));
  }

  /** Certificates issued and expired in [from, to), and renewals failed since `before` (a mark taken at `from`). */
  async window(from: number, to: number, before: FailureMark): Promise<IdentityWindow> {
    const after = await this.mark();
    let renewed = 0;
    let failed = 0;
    let expired = 0;
    for (const [n, c] of this.certs) {
      renewed += c.seen.slice(1).filter((notAfter) => notAfter - CERT_TTL_MS >= from && notAfter - CERT_TTL_MS < to).length;
      expired += [...c.expired].filter((notAfter) => notAfter >= from && notAfter < to).length;
      failed += after.get(n)! - (before.get(n) ?? 0);
    }
    return { renewed, failed, expired };
  }

  /** Whether every daemon serves the same trust bundle (GET /v1/identity/roots), and its version. */
  async rootsAgree(): Promise<string> {
    const versions = await Promise.all(this.hosts.map((h) => h.client.identityRoots().then((r) => r.version, () => 'unreachable')));
    return new Set(versions).size === 1 ? `same (${versions[0]!.slice(0, 8)})` : `DIFFER: ${versions.join(' ')}`;
  }

  private async loop(h: Host): Promise<void> {
    const c = this.certs.get(h.n)!;
    while (!this.stopped) {
      const routes = await adminGet(h, '/routes');
      const now = Date.now();
      const notAfterText = routes === undefined ? undefined : (JSON.parse(routes) as RoutesSnapshot).identity?.notAfter;
      if (notAfterText !== undefined) {
        const notAfter = Date.parse(notAfterText);
        const last = c.seen.at(-1);
        if (last !== notAfter) {
          if (last !== undefined && notAfter - CERT_TTL_MS > last) c.expired.add(last);
          c.seen.push(notAfter);
        }
        if (notAfter < now) c.expired.add(notAfter);
      }
      await sleep(POLL_MS);
    }
  }
}

async function adminGet(h: Host, path: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${h.adminUrl}${path}`, { signal: AbortSignal.timeout(1_000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}
