// What `mesh run` does once its arguments are parsed (registered in ../commands/run.ts).
import { UsageError } from '../../core/errors.js';
import { formatHostPort, parseHostPort } from '../../core/validate.js';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';
import { specFromFlags, type InstanceFlags } from '../registry-flags.js';
import { pickFreePort, superviseChild } from '../supervise.js';

export type RunFlags = InstanceFlags & RegistryClientFlags & { port?: number; mtls?: boolean; policy?: string };

/** Without a check flag, `mesh run` registers a TTL instance it heartbeats itself, so a dead mesh run is noticed. */
const DEFAULT_TTL_MS = 10_000;

export async function run(ctx: CommandContext, service: string, command: string[], opts: RunFlags): Promise<void> {
  if (opts.port !== undefined && opts.address !== undefined) throw new UsageError('--port and --address cannot be combined: --address already names the port');
  let port: number;
  let address: string;
  if (opts.address !== undefined) {
    port = parseHostPort(opts.address).port;
    address = opts.address;
  } else {
    port = opts.port ?? await pickFreePort();
    address = formatHostPort('127.0.0.1', port);
  }
  if (opts.policy !== undefined && !opts.mtls) throw new UsageError('--policy applies to the --mtls sidecar: add --mtls');
  const log = (line: string) => ctx.io.err(`${line}\n`);
  const tlsPort = opts.mtls ? opts.tlsPort ?? await pickFreePort() : opts.tlsPort;
  const checked = opts.ttl !== undefined || opts.checkHttp !== undefined || opts.checkTcp !== undefined;
  const flags = { ...opts, ...(tlsPort === undefined ? {} : { tlsPort }) };
  const spec = specFromFlags(service, address, checked ? flags : { ...flags, ttl: DEFAULT_TTL_MS });
  const client = registryClient(opts);
  let sidecar: { stop(): Promise<void> } | undefined;
  try {
    // Fail before starting the child: a service that can never be registered should not run unnoticed.
    await client.status();
    // The sidecar (and so the first certificate) comes first for the same reason; it forwards to the child,
    // which may not listen yet: callers meanwhile get the sidecar's 502, as from any app still starting.
    if (opts.mtls) {
      const { startMeshProxy } = await import('../../proxy/mesh-run.js');
      sidecar = await startMeshProxy({
        listen: '127.0.0.1:0', admin: undefined, configFile: undefined, drainTimeoutMs: 5_000, metrics: false, log,
        registry: { url: opts.registry, ...(opts.token === undefined ? {} : { token: opts.token }), ...(opts.ca === undefined ? {} : { caFile: opts.ca }) },
        outbound: false, inbound: formatHostPort(parseHostPort(address).host, tlsPort!), app: address, service,
        tls: { registry: { token: ctx.io.env.MESH_IDENTITY_TOKEN || undefined } }, policyFile: opts.policy, permissive: false, inboundAdmin: undefined,
      });
    }
    const [bin, ...args] = command;
    process.exitCode = await superviseChild({ client, spec, command: bin!, args, env: ctx.io.env, port, log });
  } finally {
    await sidecar?.stop();
    await client.close();
  }
}
