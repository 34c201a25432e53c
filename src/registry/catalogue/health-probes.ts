// The active health checks: one HTTP GET or one TCP connect, bounded by a timeout, reduced to a verdict and a
// short output line a user reads in `mesh services <service>` ("HTTP 500", "connect ECONNREFUSED 127.0.0.1:9").
import type { Agent } from 'undici';
import type { HealthState } from '../../core/types.js';
import { TcpConnectError, tcpConnect } from '../../core/tcp-connect.js';

export interface ProbeResult { health: HealthState; output: string }

/**
 * undici is loaded at the first HTTP check, not with the daemon, and only its Agent (core/undici-parts.ts, as the
 * proxy does, not the package's index): many registries run TTL checks only.
 */
let undici: Promise<typeof import('../../core/undici-parts.js')> | undefined;
const loadUndici = () => (undici ??= import('../../core/undici-parts.js'));

/** The connection pool HTTP checks share. */
export async function newProbeAgent(): Promise<Agent> {
  const { Agent } = await loadUndici();
  return new Agent({ keepAliveTimeout: 1_000, connections: 4 });
}

function describe(err: unknown, timeoutMs: number): string {
  const e = err as NodeJS.ErrnoException & { name?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.code === 'UND_ERR_CONNECT_TIMEOUT' || e?.code === 'UND_ERR_HEADERS_TIMEOUT') {
    return `timeout after ${timeoutMs} ms`;
  }
  return e?.message || String(err);
}

/** GET url: 2xx passing, 429 warning (alive but shedding load), anything else critical. */
export async function httpProbe(url: string, timeoutMs: number, dispatcher: Agent, signal?: AbortSignal): Promise<ProbeResult> {
  // Loaded before the clock starts: the first import can take longer than a short check timeout on a busy host.
  await loadUndici();
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const target = new URL(url);
    const res = await dispatcher.request({
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: 'GET',
      headers: { 'user-agent': 'mesh-health-check' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
    const output = `HTTP ${res.statusCode}`;
    if (res.statusCode >= 200 && res.statusCode < 300) return { health: 'passing', output };
    if (res.statusCode === 429) return { health: 'warning', output };
    return { health: 'critical', output };
  } catch (err) {
    return { health: 'critical', output: describe(err, timeoutMs) };
  }
}

/** Connects to host:port and closes at once: accepting a connection is the whole check. */
export async function tcpProbe(address: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  try {
    await tcpConnect(address, timeoutMs, signal);
    return { health: 'passing', output: `TCP connect ${address}: success` };
  } catch (err) {
    return { health: 'critical', output: err instanceof TcpConnectError ? err.message : describe(err, timeoutMs) };
  }
}
