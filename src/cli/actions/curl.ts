// What `mesh curl` does once its flags are parsed (registered in ../commands/curl.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MeshError, UsageError } from '../../core/errors.js';
import { validateServiceName } from '../../core/validate.js';
import { CA_CERT_FILE, DEFAULT_CA_DIR } from '../../tls/ca.js';
import { loadTlsMaterial } from '../../tls/context.js';
import { meshRequest, type MeshResponse } from '../../tls/request.js';
import { formatServiceId, parseSpiffeId } from '../../tls/spiffe.js';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';

export interface CurlFlags extends RegistryClientFlags {
  as: string; certDir: string; request?: string; header?: [string, string][]; data?: string;
  include?: boolean; fail?: boolean; verbose?: boolean; json?: boolean; maxTime: number;
}

export async function curl(ctx: CommandContext, urlText: string, opts: CurlFlags): Promise<void> {
  let url: URL;
  try { url = new URL(urlText); } catch { throw new UsageError(`<url>: invalid URL "${urlText}": use http://<service>/path or https://host:port/path`); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`<url>: use http://<service>/path or https://host:port/path, not ${url.protocol}`);
  const ca = opts.ca ?? join(ctx.io.env.MESH_CA_DIR ?? DEFAULT_CA_DIR, CA_CERT_FILE);
  const material = loadTlsMaterial({ cert: join(opts.certDir, `${opts.as}.pem`), key: join(opts.certDir, `${opts.as}-key.pem`), ca }, { roles: ['client'] });
  if (parseSpiffeId(material.spiffeId).service !== opts.as) throw new MeshError('MESH_ERR_TLS', `certificate for --as ${opts.as} carries ${material.spiffeId}`);
  const target = url.protocol === 'https:'
    ? { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443), expectServerId: null }
    : await resolveService(url.hostname.replace(/\.mesh$/, ''), material.trustDomain, opts);
  const body = opts.data === undefined ? undefined : opts.data.startsWith('@') ? readBody(opts.data.slice(1)) : Buffer.from(opts.data);
  const method = (opts.request ?? (body === undefined ? 'GET' : 'POST')).toUpperCase();
  const headers: [string, string][] = [['host', url.host], ...(opts.header ?? [])];
  const res = await meshRequest(material, { ...target, method, path: `${url.pathname}${url.search}`, headers, body, timeoutMs: opts.maxTime * 1000 });
  if (opts.verbose) ctx.io.err(`mesh curl: ${material.spiffeId} -> ${res.serverId ?? '(no identity)'} at ${target.host}:${target.port}: ${res.status}\n`);
  ctx.io.out(opts.json ? renderJson(res) : renderResponse(res, opts.include === true));
  if (opts.fail && res.status >= 400) process.exitCode = 1;
}

async function resolveService(service: string, trustDomain: string, opts: CurlFlags): Promise<{ host: string; port: number; expectServerId: string }> {
  validateServiceName(service);
  const client = registryClient(opts);
  try {
    const { instances } = await client.service(service);
    const usable = instances.filter((i) => i.tlsPort !== undefined && i.health !== 'critical');
    if (usable.length === 0) {
      throw new MeshError('MESH_ERR_NO_HEALTHY_ENDPOINT', `no healthy instance of "${service}" has a mesh TLS port`, { hint: 'run an inbound sidecar and register the instance with --tls-port' });
    }
    const pick = usable[Math.floor(Math.random() * usable.length)]!;
    const host = pick.address.slice(0, pick.address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    return { host, port: pick.tlsPort!, expectServerId: formatServiceId(trustDomain, service) };
  } finally {
    await client.close();
  }
}

function readBody(file: string): Buffer {
  try { return readFileSync(file); } catch (err) { throw new UsageError(`-d: cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`); }
}

export function renderResponse(res: MeshResponse, include: boolean): string {
  const head = include ? `HTTP/1.1 ${res.status} ${res.statusText}\n${res.headers.map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n` : '';
  const body = res.body.toString('utf8');
  return `${head}${body}${body.endsWith('\n') || body === '' ? '' : '\n'}`;
}

export function renderJson(res: MeshResponse): string {
  return `${JSON.stringify({ status: res.status, headers: res.headers, body: res.body.toString('utf8'), serverId: res.serverId }, null, 2)}\n`;
}
