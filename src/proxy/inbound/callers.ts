// Who is calling the inbound sidecar. A TLS caller's chain was verified in the handshake; its certificate must
// also be a mesh identity (peer-identity.ts: an end-entity certificate with one SPIFFE ID in our trust domain,
// allowed to act as a TLS client). One that is not is refused right after the handshake, before a byte of its
// request is read, or — with --permissive — treated exactly as a plaintext caller: unauthenticated, since such a
// certificate proves no more than none. Refusals are counted by reason and logged at most once a second;
// unauthenticated addresses are logged once each.
import type { TLSSocket } from 'node:tls';
import type { TlsSource } from '../../tls/context.js';
import { checkIdentity, type IdentityRole } from '../../tls/peer-identity.js';
import type { InboundMetrics } from './metrics.js';
import { remoteAddressOf, sentNothing } from '../sniff.js';

/** A caller: its SPIFFE ID (null = unauthenticated), the name the policy knows it by, and its counters. */
export interface Caller { id: string | null; from: string | null; counts: { allowed: number; denied: number } }

export interface InboundCallersOptions {
  tls: TlsSource;
  permissive: boolean;
  metrics: InboundMetrics;
  /** Counts refused callers (the sidecar's stats). */
  stats: { handshakesRefused: number };
  log: (line: string) => void;
}

const CLIENT_ROLE: readonly IdentityRole[] = ['client'];
/** Distinct unauthenticated addresses logged, at most (a scan must not grow memory or the log forever). */
const MAX_LOGGED_ADDRESSES = 1000;

export class InboundCallers {
  readonly unauthenticated: Caller;
  readonly #logged = new Set<string>();
  #lastRefusalLog = 0;
  #suppressed = 0;

  constructor(private readonly opts: InboundCallersOptions) {
    this.unauthenticated = { id: null, from: null, counts: opts.metrics.caller(null) };
  }

  /**
   * Who a verified TLS connection speaks for, once per connection; undefined when it was refused (the socket is
   * destroyed). The policy knows a caller by its service name, or by its full SPIFFE ID for a path that is not
   * /service/<name>.
   */
  ofTls(s: TLSSocket): Caller | undefined {
    const cert = s.getPeerX509Certificate();
    const v = cert === undefined
      ? { ok: false as const, code: 'IDENTITY_NO_SPIFFE_ID', reason: 'it sent no certificate' }
      : checkIdentity(cert.raw, { trustDomain: this.opts.tls.material.trustDomain, roles: CLIENT_ROLE });
    if (v.ok) {
      const from = v.service ?? v.id;
      return { id: v.id, from, counts: this.opts.metrics.caller(from) };
    }
    const addr = remoteAddressOf(s) ?? 'unknown';
    if (this.opts.permissive) {
      this.#logOnce(addr, `mesh inbound: TLS caller from ${addr} whose certificate is not a mesh identity (${v.reason}), treated as unauthenticated (--permissive)`);
      return this.unauthenticated;
    }
    this.#refused(addr, v.code, `${v.code}: its certificate is not a mesh identity: ${v.reason}`);
    s.destroy();
    return undefined;
  }

  /** A plaintext caller (--permissive), who is unauthenticated: its address is logged once. */
  notePlaintext(addr: string): void {
    this.#logOnce(addr, `mesh inbound: plaintext caller from ${addr}, treated as unauthenticated (--permissive)`);
  }

  /** A handshake Node refused: no certificate, another CA, expired... */
  handshakeRefused(err: Error, s: TLSSocket): void {
    // A bare TCP connect is how outbound proxies probe an unreachable endpoint's TLS port: neither counted nor logged.
    if (sentNothing(s)) return;
    const reason = s.authorizationError ? String(s.authorizationError) : (err as NodeJS.ErrnoException).code ?? err.message;
    this.#refused(remoteAddressOf(s) ?? 'unknown', reason, reason);
  }

  /** Counts a refused caller under `code` and logs `detail`, one line per second at most. */
  #refused(addr: string, code: string, detail: string): void {
    this.opts.stats.handshakesRefused++;
    this.opts.metrics.handshakeFailure(code);
    const now = Date.now();
    if (now - this.#lastRefusalLog < 1000) { this.#suppressed++; return; }
    const more = this.#suppressed > 0 ? ` (and ${this.#suppressed} more since the last report)` : '';
    this.#lastRefusalLog = now;
    this.#suppressed = 0;
    this.opts.log(`mesh inbound: refused TLS client ${addr}: ${detail}${more}`);
  }

  #logOnce(addr: string, line: string): void {
    if (this.#logged.has(addr) || this.#logged.size >= MAX_LOGGED_ADDRESSES) return;
    this.#logged.add(addr);
    this.opts.log(line);
  }
}
