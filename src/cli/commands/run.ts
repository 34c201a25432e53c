// `mesh run <service> -- <command>`: puts a local process on the mesh for exactly as long as it runs.
import type { Command } from 'commander';
import { validatePort } from '../../core/validate.js';
import type { RunFlags } from '../actions/run.js';
import { addRegistryClientOptions, flagParser } from '../common.js';
import type { CommandContext } from '../context.js';
import { addInstanceOptions } from '../registry-flags.js';

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
  export MESH_IDENTITY_TOKEN=$(mesh token create --service orders)
  mesh run orders --mtls -- node server.js          # behind an mTLS sidecar (registry identity)
`)
    .action(async (service: string, command: string[], opts: RunFlags) => (await import('../actions/run.js')).run(ctx, service, command, opts));
}
