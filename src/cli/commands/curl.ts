// `mesh curl --as <service> <url>`: one request through the mesh with that service's certificate, so a user can
// try any call as any identity. http://<service>/path finds an instance with a mesh TLS port in the registry
// and requires the server to be <service>; https://host:port/path goes straight to a sidecar.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { MeshError, UsageError } from '../../core/errors.js';
import { validateServiceName } from '../../core/validate.js';
import type { MeshResponse } from '../../tls/request.js';
import { formatServiceId, parseSpiffeId } from '../../tls/spiffe.js';
import { addRegistryClientOptions, collect, flagParser, intFlag, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { registryClient } from '../registry-flags.js';

interface CurlFlags extends RegistryClientFlags {
  as: string; certDir: string; request?: string; header?: [string, string][]; data?: string;
  include?: boolean; fail?: boolean; verbose?: boolean; json?: boolean; maxTime: number;
}

const parseHeader = (h: string): [string, string] => {
  const colon = h.indexOf(':');
  if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h.slice(0, colon))) throw new UsageError(`-H: invalid header "${h}": use "Name: value"`);
  return [h.slice(0, colon), h.slice(colon + 1).trim()];
};

export function registerCurlCommand(program: Command, ctx: CommandContext): void {
  addRegistryClientOptions(program
    .command('curl')
    .description('Send one HTTP request over mTLS with a service\'s certificate, as that service. http://<service>/path goes to an instance of <service> that registered a mesh TLS port and requires its SPIFFE ID; https://host:port/path goes straight to that sidecar. The response body goes to stdout.')
    .argument('<url>', 'http://<service>/path (through the registry) or https://host:port/path (direct).')
    .addOption(new Option('--as <service>', 'The identity to call as: uses <cert-dir>/<service>.pem and <service>-key.pem.').makeOptionMandatory().argParser(flagParser('--as', validateServiceName)))
    .addOption(new Option('--cert-dir <dir>', 'Where the service certificates are (from `mesh certs gen --out`).').env('MESH_CERT_DIR').default('.'))
    .option('-X, --request <method>', 'The HTTP method (default GET, or POST with -d).')
    .option('-H, --header <header>', 'A request header, "Name: value" (repeatable).', collect(parseHeader))
    .option('-d, --data <data>', 'A request body; @file reads it from a file.')
    .option('-i, --include', 'Print the status line and response headers before the body.')
    .option('-f, --fail', 'Exit 1 when the response status is 400 or more.')
    .option('-v, --verbose', 'Print who was called and the server\'s identity on stderr.')
    .option('--json', 'Print {status, headers, body, serverId} as JSON instead of the body.')
    .addOption(new Option('--max-time <seconds>', 'Give up after this many seconds.').default(10).argParser(intFlag('--max-time', 1, 3600))))
    .addHelpText('after', '\nThe mesh CA is --ca (or MESH_CA), else $MESH_CA_DIR/ca.pem, else ./mesh-ca/ca.pem.\n\nExamples:\n  mesh curl --as web --cert-dir ./certs http://orders/orders/42\n  mesh curl --as web --cert-dir ./certs -X POST -H \'content-type: application/json\' -d \'{"qty":1}\' http://orders/orders\n  mesh curl --as billing --cert-dir ./certs -i https://127.0.0.1:15443/admin\n')
    .action(async (urlText: string, opts: CurlFlags) => {
      let url: URL;
      try { url = new URL(urlText); } catch { throw new UsageError(`<url>: invalid URL "${urlText}": use http://<service>/path or https://host:port/path`); }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`<url>: use http://<service>/path or https://host:port/path, not ${url.protocol}`);
      // The TLS modules (X.509 parsing, the CA) load only when this command runs: the CLI process also hosts the
      // proxy, which should not carry them.
      const [{ CA_CERT_FILE, DEFAULT_CA_DIR }, { loadTlsMaterial }, { meshRequest }] = await Promise.all([
        import('../../tls/ca.js'), import('../../tls/context.js'), import('../../tls/request.js'),
      ]);
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
    });
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
