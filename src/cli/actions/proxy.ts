// What `mesh proxy start` does once its flags are parsed (registered in ../commands/proxy.ts).
import type { Command } from 'commander';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { resolveTracing, type TracingFlags } from '../../tracing/settings.js';

export interface ProxyStartFlags extends RegistryClientFlags, TracingFlags {
  listen: string;
  admin: string;
  workers: number;
  config?: string;
  drainTimeout: number;
  metrics: boolean;
  accessLog?: string;
  identity?: 'registry';
  inbound?: string;
  app?: string;
  service?: string;
  cert?: string;
  key?: string;
  policy?: string;
  permissive?: boolean;
  inboundAdmin?: string;
}

export async function proxyStart(ctx: CommandContext, opts: ProxyStartFlags, cmd: Command): Promise<void> {
  const tracing = resolveTracing(opts, process.env, opts.service ?? 'mesh-proxy');
  if (opts.inbound !== undefined || opts.cert !== undefined || opts.key !== undefined || opts.identity !== undefined) {
    const { meshProxyOptions } = await import('./proxy-mtls.js');
    const { runMeshProxy } = await import('../../proxy/mesh-run.js');
    const flags = { ...opts, ...(ctx.io.env.MESH_IDENTITY_TOKEN ? { identityToken: ctx.io.env.MESH_IDENTITY_TOKEN } : {}) };
    const given = { listen: cmd.getOptionValueSource('listen') !== 'default', admin: cmd.getOptionValueSource('admin') === 'cli' };
    const meshOpts = meshProxyOptions(flags, given, (line) => ctx.io.err(`${line}\n`));
    await runMeshProxy(tracing === undefined ? meshOpts : { ...meshOpts, tracing });
    return;
  }
  // Loaded on demand: other commands should not pay for the proxy's code.
  const { runProxy } = await import('../../proxy/cluster.js');
  await runProxy({
    listen: opts.listen,
    admin: opts.admin,
    workers: opts.workers,
    registry: { url: opts.registry, ...(opts.token === undefined ? {} : { token: opts.token }), ...(opts.ca === undefined ? {} : { caFile: opts.ca }) },
    configFile: opts.config,
    drainTimeoutMs: opts.drainTimeout,
    metrics: opts.metrics,
    ...(opts.accessLog === undefined ? {} : { accessLog: opts.accessLog }),
    ...(tracing === undefined ? {} : { tracing }),
    log: (line) => ctx.io.err(`${line}\n`),
  });
}
