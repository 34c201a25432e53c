// What the inbound sidecar counts: requests by caller identity (plaintext callers as "unauthenticated") and
// decision, and refused TLS handshakes by reason. Per request it is one Map lookup and an increment; the
// Prometheus text is built only when scraped (GET /metrics on --inbound-admin).
import { handleTracesRequest } from '../../tracing/admin-routes.js';
import type { Tracer } from '../../tracing/tracer.js';
import { createServer, type Server } from 'node:http';
import { Counter, Registry } from 'prom-client';

export const UNAUTHENTICATED_CALLER = 'unauthenticated';

interface CallerCounts { allowed: number; denied: number; mtls: boolean }

export class InboundMetrics {
  readonly #callers = new Map<string, CallerCounts>();
  readonly #handshakeFailures = new Map<string, number>();
  #underscoreHeaders = 0;
  readonly registry = new Registry();

  constructor(readonly service: string) {
    const self = this;
    new Counter({
      name: 'mesh_inbound_requests_total',
      help: 'Requests the inbound sidecar received, by caller (its service name, or "unauthenticated" for plaintext callers in permissive mode), how it authenticated, and the policy decision.',
      labelNames: ['service', 'caller', 'auth', 'decision'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [caller, c] of self.#callers) {
          const auth = c.mtls ? 'mtls' : 'none';
          if (c.allowed > 0) this.inc({ service: self.service, caller, auth, decision: 'allow' }, c.allowed);
          if (c.denied > 0) this.inc({ service: self.service, caller, auth, decision: 'deny' }, c.denied);
        }
      },
    });
    new Counter({
      name: 'mesh_inbound_tls_handshake_failures_total',
      help: 'TLS handshakes the inbound sidecar refused, by reason (no client certificate, unknown CA, expired, ...).',
      labelNames: ['service', 'reason'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [reason, n] of self.#handshakeFailures) this.inc({ service: self.service, reason }, n);
      },
    });
    new Counter({
      name: 'mesh_inbound_request_headers_dropped_total',
      help: 'Request headers the inbound sidecar dropped instead of passing them to the app, by reason (underscore: a name with "_", see allowUnderscoresInHeaders).',
      labelNames: ['service', 'reason'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ service: self.service, reason: 'underscore' }, self.#underscoreHeaders);
      },
    });
  }

  /** `count` request headers were dropped for an underscore in their name (underscore-headers.ts). */
  underscoreHeadersDropped(count: number): void {
    this.#underscoreHeaders += count;
  }

  /** The counts for one caller; the sidecar keeps the object per connection, so requests only increment. */
  caller(name: string | null): CallerCounts {
    const key = name ?? UNAUTHENTICATED_CALLER;
    let c = this.#callers.get(key);
    if (c === undefined) {
      c = { allowed: 0, denied: 0, mtls: name !== null };
      // Bound the label set: identities come from our own CA, but a flood of them must not grow memory forever.
      if (this.#callers.size < 10_000) this.#callers.set(key, c);
    }
    return c;
  }

  handshakeFailure(reason: string): void {
    const key = /^[A-Z0-9_]{1,64}$/.test(reason) ? reason : 'OTHER';
    this.#handshakeFailures.set(key, (this.#handshakeFailures.get(key) ?? 0) + 1);
  }
}

/** A tiny admin server: GET /metrics (Prometheus text) and GET /healthz. */
export function createInboundAdmin(metrics: InboundMetrics, tracer?: Tracer): Server {
  return createServer((req, res) => {
    if (handleTracesRequest(req, res, tracer)) return;
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method === 'GET' && path === '/metrics') {
      void metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      }, () => { res.writeHead(500); res.end(); });
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}\n');
      return;
    }
    const body = JSON.stringify({ error: { code: 'MESH_ERR_NOT_FOUND', message: `no admin route ${path}; try /metrics or /traces` } });
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}
