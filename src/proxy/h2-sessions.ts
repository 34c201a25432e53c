// Upstream HTTP/2 cleartext sessions, one per endpoint address, multiplexing every h2/gRPC request the
// proxy forwards there. node:http2 rather than undici: undici's allowH2 has a history of hangs (see the field
// notes). A session that closes, fails or receives GOAWAY is forgotten at once (its streams in flight
// finish on it), so the next request dials a fresh one.
import { connect, type ClientHttp2Session } from 'node:http2';

/** How long an address that answered the h2c preface with something else is known not to speak h2c. */
const NOT_H2_MS = 10_000;

export class H2Sessions {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  /** Addresses whose last dial got no HTTP/2 SETTINGS back (an HTTP/1.1-only server), until when. */
  private readonly notH2 = new Map<string, number>();

  constructor(private readonly connectTimeoutMs: number) {}

  /** Whether `address` recently answered the h2c preface with something that is not HTTP/2. */
  speaksOnlyHttp1(address: string): boolean {
    const until = this.notH2.get(address);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.notH2.delete(address);
    return false;
  }

  /** The live session to `address` ("host:port"), dialled (h2c with prior knowledge) if there is none. */
  get(address: string): ClientHttp2Session {
    const existing = this.sessions.get(address);
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
    const session = connect(`http://${address}`, { settings: { enablePush: false } });
    this.sessions.set(address, session);
    const forget = (): void => {
      if (this.sessions.get(address) === session) this.sessions.delete(address);
    };
    const timer = setTimeout(() => {
      const err = new Error(`connect to ${address} timed out after ${this.connectTimeoutMs} ms`) as NodeJS.ErrnoException;
      err.code = 'UND_ERR_CONNECT_TIMEOUT';
      session.destroy(err);
    }, this.connectTimeoutMs);
    session.once('connect', () => clearTimeout(timer));
    // The streams on it learn of the failure themselves; the session only has to leave the table.
    let settings = false;
    session.once('remoteSettings', () => { settings = true; this.notH2.delete(address); });
    session.on('error', (err: NodeJS.ErrnoException) => {
      // An HTTP/1.1 server answers the preface with a 400, which nghttp2 reports as a protocol error.
      if (!settings && err.code === 'ERR_HTTP2_ERROR') this.notH2.set(address, performance.now() + NOT_H2_MS);
      forget();
    });
    session.once('goaway', forget);
    session.once('close', () => { clearTimeout(timer); forget(); });
    return session;
  }

  /** Closes sessions to addresses no longer in any service's table (their streams in flight finish first). */
  retain(addresses: ReadonlySet<string>): void {
    for (const [address, session] of this.sessions) {
      if (!addresses.has(address)) {
        this.sessions.delete(address);
        session.close();
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => new Promise<void>((resolve) => {
      if (s.destroyed) { resolve(); return; }
      s.close(() => resolve());
      // A stream that never ends must not hold shutdown forever.
      setTimeout(() => { s.destroy(); resolve(); }, 2_000).unref();
    })));
  }
}
