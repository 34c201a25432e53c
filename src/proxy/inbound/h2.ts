// The inbound sidecar's HTTP/2 side. The TLS listener offers ALPN h2 and http/1.1; a connection that picked
// h2 (and, with --permissive, a plaintext one that opened with the h2c preface) is handed to a node:http2
// server that never listens itself. The caller is known per connection (from the client certificate, already
// verified at the handshake), so each session is bound to its caller when it is made; each stream is then
// decided and forwarded by the sidecar (inbound.ts), over h2c to the local app.
import { connect, createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { LOCAL_SETTINGS, openConnectionWindow } from '../h2/settings.js';

/** An h2 connection with nothing going on for this long gets a GOAWAY. */
const SESSION_IDLE_MS = 300_000;

export class InboundH2Front<Conn> {
  readonly #server: Http2Server = createServer({ settings: LOCAL_SETTINGS });
  readonly #sessions = new Map<ServerHttp2Session, Conn>();
  #next: Conn | undefined;

  constructor(onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, conn: Conn) => void) {
    this.#server.on('session', (session: ServerHttp2Session) => {
      // Emitted synchronously from the 'connection' emit in accept(), so #next is this socket's connection.
      const conn = this.#next!;
      this.#sessions.set(session, conn);
      session.once('close', () => this.#sessions.delete(session));
      session.on('error', noop);
      session.setTimeout(SESSION_IDLE_MS, () => session.close());
      openConnectionWindow(session);
    });
    this.#server.on('sessionError', noop);
    this.#server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      stream.on('error', noop);
      const conn = stream.session === undefined ? undefined : this.#sessions.get(stream.session as ServerHttp2Session);
      if (conn === undefined) { stream.close(); return; }
      onStream(stream, headers, conn);
    });
  }

  /** Takes a connection that speaks HTTP/2: a TLS socket that negotiated h2, or a sniffed h2c socket. */
  accept(socket: Duplex, conn: Conn): void {
    this.#next = conn;
    // As on the outbound front (h2/server.ts): node:http2 does not handle a half-open close, so a caller's FIN
    // must close the socket, or its session and streams in flight stay open until a timeout.
    socket.allowHalfOpen = false;
    try {
      this.#server.emit('connection', socket);
    } finally {
      this.#next = undefined;
    }
  }

  /** Draining: GOAWAY on every session; streams in flight finish, new calls go elsewhere. */
  goaway(): void {
    for (const session of this.#sessions.keys()) session.close();
  }

  /** Past the drain deadline: cut what is left. */
  destroy(): void {
    for (const session of this.#sessions.keys()) session.destroy();
    this.#sessions.clear();
  }
}

function noop(): void {}

/**
 * Whether the app at `address` answers the h2c preface with HTTP/2 SETTINGS. The sidecar offers h2 (ALPN) to
 * callers that could also speak HTTP/1.1 only when the app can take it, so an HTTP/1.1-only app behind the
 * sidecar keeps serving curl and browsers (which offer both) exactly as before.
 */
export function probeH2c(address: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const session = connect(`http://${address}`, { settings: { enablePush: false } });
    const done = (ok: boolean): void => { clearTimeout(timer); session.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), timeoutMs);
    session.once('remoteSettings', () => done(true));
    session.once('error', () => done(false));
    session.once('close', () => done(false));
  });
}
