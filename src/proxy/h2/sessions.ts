// Upstream HTTP/2 sessions per endpoint address (cleartext h2c with prior knowledge) or, for endpoints with a
// mesh TLS port when this proxy has a service certificate, per address, destination service and TLS port
// (mTLS, ALPN h2, the destination's exact SPIFFE ID checked as outbound-tls.ts does for HTTP/1.1).
// node:http2 rather than undici: undici's allowH2 has a history of hangs (see the field notes).
// Streams to an endpoint are multiplexed on one session until it holds as many as the endpoint allows
// (its SETTINGS_MAX_CONCURRENT_STREAMS: nginx 128, many gRPC servers 100); then another session is dialled,
// up to MAX_SESSIONS_PER_TARGET. Node queues a stream past the peer's limit until one of its streams ends, so
// one session per endpoint would hold every call past the limit behind the slowest (and its per-try timer
// runs while it waits). A session that closes, fails or receives GOAWAY is forgotten at once (its streams in
// flight finish on it), so the next request dials a fresh one. A certificate rotation closes the mTLS
// sessions gracefully: new calls dial new sessions with the new certificate while calls in flight finish on
// the old ones.
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type ClientSessionRequestOptions, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import { tlsAddress, type OutboundTlsProvider } from '../upstream/outbound-tls.js';
import { LOCAL_SETTINGS, openConnectionWindow } from './settings.js';

/** How long an address that answered with something other than HTTP/2 is known not to speak it. */
const NOT_H2_MS = 10_000;

/** The session key for an endpoint: its address, or address|service|tlsPort for an mTLS session. */
export type H2Target = string;

/** Set on the error a session is destroyed with when the TLS peer did not select h2 by ALPN. */
export const ERR_NOT_H2 = 'ERR_MESH_ALPN_NOT_H2';

/** Sessions to one endpoint at most; past that, streams queue on the least busy one. */
export const MAX_SESSIONS_PER_TARGET = 32;

/** The stream limit Node assumes for a peer whose SETTINGS have not arrived (its peerMaxConcurrentStreams). */
const STREAMS_BEFORE_SETTINGS = 100;

/** One upstream session and the streams open on it. */
interface Pooled {
  readonly session: ClientHttp2Session;
  active: number;
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS, once known. */
  limit: number;
  /** Bound once per session, so a stream's 'close' listener costs no closure. */
  readonly release: () => void;
}

/** The alert a TLS server with ALPN but without h2 (Node's https server offers only http/1.1) answers with. */
const NO_ALPN = 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL';

export class H2Sessions {
  private readonly pools = new Map<H2Target, Pooled[]>();
  /** Targets whose last dial got no HTTP/2 back (an HTTP/1.1-only server), until when. */
  private readonly notH2 = new Map<H2Target, number>();
  /** Sessions that have received the peer's SETTINGS, i.e. that speak HTTP/2. */
  private readonly settled = new WeakSet<ClientHttp2Session>();
  private tls: OutboundTlsProvider | undefined;

  constructor(private readonly connectTimeoutMs: number) {}

  /** Turns on mTLS sessions to endpoints with a mesh TLS port; a rotation retires the open ones. */
  setTls(tls: OutboundTlsProvider): void {
    this.tls = tls;
    tls.onReload(() => {
      for (const [target, pool] of this.pools) {
        if (target.includes('|')) { this.pools.delete(target); for (const p of pool) p.session.close(); }
      }
    });
  }

  /** Whether endpoints with a mesh TLS port are reached over mTLS. */
  get mtls(): boolean {
    return this.tls !== undefined;
  }

  /** The session key for an endpoint; `tlsPort` counts only when mTLS is on. */
  target(address: string, service: string, tlsPort: number | undefined): H2Target {
    return this.tls === undefined || tlsPort === undefined ? address : `${address}|${service}|${tlsPort}`;
  }

  /** Whether `target` recently answered with something that is not HTTP/2. */
  speaksOnlyHttp1(target: H2Target): boolean {
    const until = this.notH2.get(target);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.notH2.delete(target);
    return false;
  }

  /**
   * Looks at why a stream to `target` failed: a TLS server that refused h2 by ALPN is an HTTP/1.1-only
   * endpoint, not a broken one. The stream hears of it (as the cause of its cancel) before the session does.
   */
  noteFailure(target: H2Target, err: Error | undefined): void {
    for (let e: unknown = err; e instanceof Error; e = e.cause === e ? undefined : e.cause) {
      const code = (e as NodeJS.ErrnoException).code;
      // A protocol error before any SETTINGS: an HTTP/1.1 server answered the preface (see get()). The session
      // learns it too, but only after its streams, so the call that met it would be answered upstream-connect.
      const beforeSettings = code === 'ERR_HTTP2_ERROR' && !this.spoke(target);
      if (code === NO_ALPN || code === ERR_NOT_H2 || beforeSettings) { this.notH2.set(target, performance.now() + NOT_H2_MS); return; }
    }
  }

  /** Whether a session to `target` has received the peer's SETTINGS (or none is known any more). */
  private spoke(target: H2Target): boolean {
    const pool = this.pools.get(target);
    return pool === undefined || pool.some((p) => this.settled.has(p.session));
  }

  /**
   * Opens a stream to `target` on a session with room for it, dialling one when every session is at the peer's
   * limit. Throws as ClientHttp2Session.request() does (a session closing refuses new streams).
   */
  request(target: H2Target, headers: OutgoingHttpHeaders, options: ClientSessionRequestOptions): ClientHttp2Stream {
    const pooled = this.pick(target);
    const stream = pooled.session.request(headers, options);
    pooled.active++;
    stream.on('close', pooled.release);
    return stream;
  }

  /** The number of live sessions to `target` (tests and diagnostics). */
  sessionCount(target: H2Target): number {
    return this.pools.get(target)?.length ?? 0;
  }

  private pick(target: H2Target): Pooled {
    const pool = this.pools.get(target);
    if (pool === undefined) return this.open(target, []);
    let least: Pooled | undefined;
    let live = 0;
    for (const p of pool) {
      // A session destroyed or closing this tick is still listed until its events run: it takes no streams.
      if (p.session.closed || p.session.destroyed) continue;
      if (p.active < p.limit) return p;
      live++;
      if (least === undefined || p.active < least.active) least = p;
    }
    return least === undefined || live < MAX_SESSIONS_PER_TARGET ? this.open(target, pool) : least;
  }

  /** Dials a session to `target` and adds it to `pool` (the target's list, new or not). */
  private open(target: H2Target, pool: Pooled[]): Pooled {
    const session = this.dial(target);
    const pooled: Pooled = { session, active: 0, limit: STREAMS_BEFORE_SETTINGS, release: () => { pooled.active--; } };
    if (pool.length === 0) this.pools.set(target, pool);
    pool.push(pooled);
    const forget = (): void => {
      const i = pool.indexOf(pooled);
      if (i < 0) return;
      pool.splice(i, 1);
      if (pool.length === 0 && this.pools.get(target) === pool) this.pools.delete(target);
    };
    const timer = setTimeout(() => {
      const err = new Error(`connect to ${target} timed out after ${this.connectTimeoutMs} ms`) as NodeJS.ErrnoException;
      err.code = 'UND_ERR_CONNECT_TIMEOUT';
      session.destroy(err);
    }, this.connectTimeoutMs);
    session.once('connect', () => {
      clearTimeout(timer);
      // Over TLS the server chose the protocol: one that did not pick h2 would read our preface as garbage.
      // (Node types it as a string; it is false when the server ignored ALPN.)
      const alpn: unknown = session.alpnProtocol;
      if (session.encrypted && alpn !== 'h2') {
        this.notH2.set(target, performance.now() + NOT_H2_MS);
        const err = new Error(`the server did not negotiate HTTP/2 (ALPN ${typeof alpn === 'string' ? alpn : 'none'})`) as NodeJS.ErrnoException;
        err.code = ERR_NOT_H2;
        session.destroy(err);
        return;
      }
      openConnectionWindow(session);
    });
    // The streams on it learn of the failure themselves; the session only has to leave the table.
    session.on('remoteSettings', (settings) => {
      this.settled.add(session);
      this.notH2.delete(target);
      pooled.limit = settings.maxConcurrentStreams ?? Number.MAX_SAFE_INTEGER;
    });
    session.on('error', (err: NodeJS.ErrnoException) => {
      // An HTTP/1.1 server answers the h2c preface with a 400, which nghttp2 reports as a protocol error; a TLS
      // server that knows ALPN but not h2 refuses the handshake with no_application_protocol.
      if (!this.settled.has(session) && (err.code === 'ERR_HTTP2_ERROR' || err.code === NO_ALPN)) this.notH2.set(target, performance.now() + NOT_H2_MS);
      forget();
    });
    session.once('goaway', forget);
    session.once('close', () => { clearTimeout(timer); forget(); });
    return pooled;
  }

  private dial(target: H2Target): ClientHttp2Session {
    const bar = target.indexOf('|');
    if (bar < 0) return connect(`http://${target}`, { settings: LOCAL_SETTINGS });
    const address = target.slice(0, bar);
    const rest = target.slice(bar + 1);
    const bar2 = rest.lastIndexOf('|');
    const service = rest.slice(0, bar2);
    const tlsPort = Number(rest.slice(bar2 + 1));
    // The options are asked for on every dial, so a rotated certificate or CA applies to the next session.
    const options: SecureClientSessionOptions = { ...this.tls!.connectOptions(service), settings: LOCAL_SETTINGS };
    return connect(`https://${tlsAddress(address, tlsPort)}`, options);
  }

  /** Closes sessions to addresses no longer in any service's table (their streams in flight finish first). */
  retain(addresses: ReadonlySet<string>): void {
    for (const [target, pool] of this.pools) {
      const bar = target.indexOf('|');
      if (!addresses.has(bar < 0 ? target : target.slice(0, bar))) {
        this.pools.delete(target);
        for (const p of pool) p.session.close();
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()].flat().map((p) => p.session);
    this.pools.clear();
    await Promise.all(all.map((s) => new Promise<void>((resolve) => {
      if (s.destroyed) { resolve(); return; }
      s.close(() => resolve());
      // A stream that never ends must not hold shutdown forever.
      setTimeout(() => { s.destroy(); resolve(); }, 2_000).unref();
    })));
  }
}
