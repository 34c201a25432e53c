// The proxies' registry-issued certificates under the chaos run. Every second each proxy's admin server is asked
// for its certificate (/routes: notAfter) and its renewal failures (/metrics: mesh_identity_renewal_failures_total).
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
  /** [time, mesh_identity_renewal_failures_total]. */
  failures: [number, number][];
}

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
      this.certs.set(h.n, { seen: [], expired: new Set(), failures: [] });
      this.loops.push(this.loop(h));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  window(from: number, to: number): IdentityWindow {
    let renewed = 0;
    let failed = 0;
    let expired = 0;
    for (const c of this.certs.values()) {
      renewed += c.seen.slice(1).filter((notAfter) => notAfter - CERT_TTL_MS >= from && notAfter - CERT_TTL_MS < to).length;
      expired += [...c.expired].filter((notAfter) => notAfter >= from && notAfter < to).length;
      failed += counterAt(c.failures, to) - counterAt(c.failures, from);
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
      const [routes, metrics] = await Promise.all([adminGet(h, '/routes'), adminGet(h, '/metrics')]);
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
      const failures = metrics === undefined ? undefined : /^mesh_identity_renewal_failures_total (\d+)/m.exec(metrics)?.[1];
      if (failures !== undefined) c.failures.push([now, Number(failures)]);
      await sleep(POLL_MS);
    }
  }
}

/** The counter's last value sampled before `at` (0 before the first sample). */
function counterAt(samples: [number, number][], at: number): number {
  let v = 0;
  for (const [t, n] of samples) { if (t >= at) break; v = n; }
  return v;
}

async function adminGet(h: Host, path: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${h.adminUrl}${path}`, { signal: AbortSignal.timeout(1_000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}
