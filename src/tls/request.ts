// One HTTP request over mTLS with a service's certificate: what `mesh curl --as` sends. The server must chain
// to the mesh CA and, when an identity is expected, carry exactly that SPIFFE ID.
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { MeshError } from '../core/errors.js';
import { clientTlsOptions, type TlsMaterial } from './context.js';
import { spiffeIdOf } from './spiffe.js';

export interface MeshRequest {
  host: string;
  port: number;
  /** The SPIFFE ID the server must carry; null = any mesh identity of our trust domain. */
  expectServerId: string | null;
  method: string;
  /** Origin-form target: /path?query. */
  path: string;
  headers: [string, string][];
  body: Buffer | undefined;
  timeoutMs: number;
}

export interface MeshResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Buffer;
  serverId: string | null;
}

export function meshRequest(m: TlsMaterial, r: MeshRequest): Promise<MeshResponse> {
  const tls = clientTlsOptions(m, r.expectServerId);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of r.headers) {
    const prev = headers[k.toLowerCase()];
    headers[k.toLowerCase()] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  if (r.body !== undefined && headers['content-length'] === undefined) headers['content-length'] = String(r.body.length);
  const where = `${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`;
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: r.host, port: r.port, method: r.method, path: r.path, headers, agent: false, timeout: r.timeoutMs, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const out: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) out.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: out, body: Buffer.concat(chunks), serverId: spiffeIdOf((res.socket as TLSSocket).getPeerCertificate()) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new MeshError('MESH_ERR_UPSTREAM_TIMEOUT', `no answer from ${where} within ${r.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof MeshError) return reject(err);
      const tlsFailure = /SPIFFE|CERT|SSL|TLS|certificate|alert/i.test(`${err.code ?? ''} ${err.message}`);
      reject(new MeshError(tlsFailure ? 'MESH_ERR_TLS' : 'MESH_ERR_UPSTREAM_CONNECT', `${tlsFailure ? 'mTLS handshake with' : 'cannot reach'} ${where} failed: ${err.message}`, { cause: err }));
    });
    req.end(r.body);
  });
}
