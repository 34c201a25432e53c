// The upstream connection pools: one undici Pool per endpoint address (and per mesh TLS port when the
// outbound proxy speaks mTLS), plus the HTTP/2 sessions h2/gRPC clients use. Kept while some service's table
// still holds the address; closed (after their in-flight requests) when it leaves.
import { Pool } from '../../core/undici-parts.js';
import { H2Sessions } from '../h2/sessions.js';
import { tlsAddress, type OutboundTlsProvider } from './outbound-tls.js';

const POOL_OPTIONS = {
  connections: 512,
  pipelining: 1,
  // Under Node's 5 s default server idle timeout, so we do not race the upstream closing idle sockets.
  keepAliveTimeout: 3_000,
  keepAliveTimeoutThreshold: 1_000,
  headersTimeout: 15_000,
  bodyTimeout: 30_000,
} as const;

/** undici Pools, one per endpoint address, kept while the address is in some service's table; h2c sessions too. */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  private tls: OutboundTlsProvider | undefined;
  /** HTTP/2 cleartext sessions for h2/gRPC clients (h2-forward.ts). */
  readonly h2: H2Sessions;
  constructor(private readonly connectTimeoutMs: number) {
    this.h2 = new H2Sessions(connectTimeoutMs);
  }

  /** Whether endpoints with a mesh TLS port are reached over mTLS. */
  get mtls(): boolean {
    return this.tls !== undefined;
  }

  /** The host:port a connect to this endpoint goes to: its mesh TLS port when TLS is on and it has one. */
  dialAddress(address: string, tlsPort: number | undefined): string {
    return this.tls !== undefined && tlsPort !== undefined ? tlsAddress(address, tlsPort) : address;
  }

  /** Turns on mTLS to endpoints that registered a mesh TLS port; a certificate rotation rebuilds those pools. */
  setTls(tls: OutboundTlsProvider): void {
    this.tls = tls;
    this.h2.setTls(tls);
    tls.onReload(() => {
      for (const [key, pool] of this.pools) {
        if (key.includes('|')) { this.pools.delete(key); void pool.close().catch(() => undefined); }
      }
    });
  }

  /**
   * The pool for an endpoint; mTLS to its tlsPort (checking `service`'s SPIFFE ID) when TLS is on. A service whose
   * config sets another connect timeout gets pools of its own (undici fixes the timeout per pool); the common case
   * of the default timeout keys by address alone, with no string built per request.
   */
  get(address: string, service?: string, tlsPort?: number, connectTimeoutMs = this.connectTimeoutMs): Pool {
    if (this.tls !== undefined && tlsPort !== undefined && service !== undefined) return this.getTls(address, service, tlsPort, connectTimeoutMs);
    const key = connectTimeoutMs === this.connectTimeoutMs ? address : `${address}|t${connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(`http://${address}`, { ...POOL_OPTIONS, connect: { timeout: connectTimeoutMs } });
      this.pools.set(key, pool);
    }
    return pool;
  }

  private getTls(address: string, service: string, tlsPort: number, connectTimeoutMs: number): Pool {
    const key = connectTimeoutMs === this.connectTimeoutMs ? `${address}|${service}|${tlsPort}` : `${address}|${service}|${tlsPort}|t${connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(`https://${tlsAddress(address, tlsPort)}`, {
        ...POOL_OPTIONS,
        connect: { timeout: connectTimeoutMs, ...this.tls!.connectOptions(service) },
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Closes pools whose address is no longer in use; their in-flight requests finish first. */
  retain(addresses: ReadonlySet<string>): void {
    this.h2.retain(addresses);
    for (const [key, pool] of this.pools) {
      const address = key.includes('|') ? key.slice(0, key.indexOf('|')) : key;
      if (!addresses.has(address)) {
        this.pools.delete(key);
        void pool.close().catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)).concat(this.h2.close()));
    this.pools.clear();
  }
}
