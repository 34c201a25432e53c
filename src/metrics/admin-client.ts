// A client for the proxy's admin API (GET /routes, /explain, /metrics, /healthz and the /stats stream), used
// by `mesh routes`, `mesh top`, `mesh check` and `mesh demo`. Any failure to reach the proxy becomes one
// MESH_ERR_PROXY_UNREACHABLE naming the URL.
import { request as httpRequest, type ClientRequest } from 'node:http';
import type { RoutesSnapshot, StatsFrame } from '../core/admin-types.js';
import { MeshError, ValidationError, type ErrorCode } from '../core/errors.js';

const TIMEOUT_MS = 5_000;

/** Checks and normalises a --proxy URL ("http://127.0.0.1:15000", no trailing slash). */
export function normaliseAdminUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ValidationError('proxy', `invalid proxy admin URL "${url}": use http://host:port`);
  }
  if (u.protocol !== 'http:') throw new ValidationError('proxy', `invalid proxy admin URL "${url}": the admin API speaks plain http://`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

export interface AdminResponse { status: number; contentType: string; body: string }

/**
 * GET base+path; throws MESH_ERR_PROXY_UNREACHABLE when the proxy cannot be reached. (node:http, not fetch:
 * fetch refuses the "bad ports" of the Fetch standard, and an admin port may well be one of them.)
 */
export function adminGet(base: string, path: string, timeoutMs = TIMEOUT_MS): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const unreachable = (why: string) => reject(new MeshError('MESH_ERR_PROXY_UNREACHABLE', `proxy admin at ${base} is unreachable (${why})`));
    const req = httpRequest(`${base}${path}`, { headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 64 * 1024 * 1024) { req.destroy(new Error('answer larger than 64 MiB')); return; }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => unreachable(err.message));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => unreachable(err.code ?? err.message));
    req.end();
  });
}

/** GET a JSON document; non-2xx answers become MeshErrors with the proxy's code and message. */
export async function adminJson<T>(base: string, path: string): Promise<T> {
  return parseAdminJson<T>(base, path, await adminGet(base, path));
}

export function parseAdminJson<T>(base: string, path: string, res: AdminResponse): T {
  let doc: unknown;
  try {
    doc = JSON.parse(res.body);
  } catch {
    throw new MeshError('MESH_ERR_PROXY_UNREACHABLE', `proxy admin at ${base} answered ${path} with something other than JSON (is ${base} a mesh proxy's --admin address?)`);
  }
  if (res.status >= 400) {
    const e = (doc as { error?: { code?: string; message?: string } }).error;
    const code = (e?.code ?? 'MESH_ERR_INTERNAL') as ErrorCode;
    throw new MeshError(code, `proxy admin at ${base}: ${e?.message ?? `HTTP ${res.status}`}`, { status: res.status });
  }
  return doc as T;
}

export function fetchRoutes(base: string): Promise<RoutesSnapshot> {
  return adminJson<RoutesSnapshot>(base, '/routes');
}

export interface StatsSubscription { close(): void }

export interface StatsHandlers {
  onOpen?(): void;
  onFrame(frame: StatsFrame): void;
  /** The stream ended or could not start; the subscriber decides whether to reconnect. */
  onClose(err?: Error): void;
}

/** Subscribes to GET /stats (server-sent events). Calls onClose exactly once. */
export function subscribeStats(base: string, h: StatsHandlers): StatsSubscription {
  let closed = false;
  let req: ClientRequest | undefined;
  const finish = (err?: Error) => {
    if (closed) return;
    closed = true;
    req?.destroy();
    h.onClose(err);
  };
  req = httpRequest(`${base}/stats`, { headers: { accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) { res.resume(); finish(new Error(`GET /stats answered ${res.statusCode}`)); return; }
    h.onOpen?.();
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data:')) continue;
          try {
            h.onFrame(JSON.parse(line.slice(5)) as StatsFrame);
          } catch (err) {
            finish(new Error(`a /stats frame is not JSON: ${(err as Error).message}`));
            return;
          }
        }
      }
      if (buf.length > 8 * 1024 * 1024) finish(new Error('a /stats frame exceeds 8 MiB'));
    });
    res.on('end', () => finish(new Error('the proxy closed the stream')));
    res.on('error', (err) => finish(err));
  });
  req.setTimeout(TIMEOUT_MS, () => finish(new Error('no answer within 5 s')));
  req.on('response', () => req?.setTimeout(0));
  req.on('error', (err) => finish(err));
  req.end();
  return { close: () => { closed = true; req?.destroy(); } };
}
