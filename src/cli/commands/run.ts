// `mesh run <service> -- <command>`: puts a local process on the mesh for exactly as long as it runs.
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { formatHostPort, parseHostPort, validatePort } from '../../core/validate.js';
import { addRegistryClientOptions, flagParser, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { addInstanceOptions, registryClient, specFromFlags, type InstanceFlags } from '../registry-flags.js';
import { pickFreePort, superviseChild } from '../supervise.js';

type RunFlags = InstanceFlags & RegistryClientFlags & { port?: number; mtls?: boolean; policy?: string };

/** Without a check flag, `mesh run` registers a TTL instance it heartbeats itself, so a dead mesh run is noticed. */
const DEFAULT_TTL_MS = 10_000;

export function registerRunCommand(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('run')
    .description('Run a command and keep it registered while it lives: pick a port (passed as PORT), register once the port accepts connections, heartbeat, forward SIGINT/SIGTERM, deregister when it exits, and exit with its exit code.')
    .argument('<service>', 'The service name: a DNS label such as orders.')
    .argument('<command...>', 'The command and its arguments, after --.')
    .option('--port <port>', 'The port the child listens on (default: a free port, passed to the child as PORT).', flagParser('--port', (v) => validatePort(v)))
    .option('--address <host:port>', 'The address to register, when the child does not listen on 127.0.0.1:PORT.')
    .option('--mtls', 'Put an inbound mTLS sidecar in front of the child, with an identity from the registry (first certificate with MESH_IDENTITY_TOKEN, renewed by itself): it listens on --tls-port (default: a free port) on the host of the address, and the instance is registered with that mesh TLS port.')
    .option('--policy <file>', 'With --mtls: the authorization policy the sidecar enforces (reloaded when it changes).');
  addInstanceOptions(cmd);
  addRegistryClientOptions(cmd)
    .addHelpText('after', `
Examples:
  mesh run orders -- node server.js                 # server.js listens on process.env.PORT
  mesh run orders --port 8080 --tag version=v2 -- python3 -m http.server 8080
  MESH_IDENTITY_TOKEN=$(mesh token create --service orders) mesh run orders --mtls -- node server.js
`)
    .action(async (service: string, command: string[], opts: RunFlags) => {
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
        const code = await superviseChild({ client, spec, command: bin!, args, env: ctx.io.env, port, log });
        process.exitCode = code;
      } finally {
        await sidecar?.stop();
        await client.close();
      }
    });
}
