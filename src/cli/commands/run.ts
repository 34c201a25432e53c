// `mesh run <service> -- <command>`: puts a local process on the mesh for exactly as long as it runs.
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { formatHostPort, parseHostPort, validatePort } from '../../core/validate.js';
import { addRegistryClientOptions, flagParser, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { addInstanceOptions, registryClient, specFromFlags, type InstanceFlags } from '../registry-flags.js';
import { pickFreePort, superviseChild } from '../supervise.js';

type RunFlags = InstanceFlags & RegistryClientFlags & { port?: number };

/** Without a check flag, `mesh run` registers a TTL instance it heartbeats itself, so a dead mesh run is noticed. */
const DEFAULT_TTL_MS = 10_000;

export function registerRunCommand(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('run')
    .description('Run a command and keep it registered while it lives: pick a port (passed as PORT), register once the port accepts connections, heartbeat, forward SIGINT/SIGTERM, deregister when it exits, and exit with its exit code.')
    .argument('<service>', 'The service name: a DNS label such as orders.')
    .argument('<command...>', 'The command and its arguments, after --.')
    .option('--port <port>', 'The port the child listens on (default: a free port, passed to the child as PORT).', flagParser('--port', (v) => validatePort(v)))
    .option('--address <host:port>', 'The address to register, when the child does not listen on 127.0.0.1:PORT.');
  addInstanceOptions(cmd);
  addRegistryClientOptions(cmd)
    .addHelpText('after', `
Examples:
  mesh run orders -- node server.js                 # server.js listens on process.env.PORT
  mesh run orders --port 8080 --tag version=v2 -- python3 -m http.server 8080
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
      const checked = opts.ttl !== undefined || opts.checkHttp !== undefined || opts.checkTcp !== undefined;
      const spec = specFromFlags(service, address, checked ? opts : { ...opts, ttl: DEFAULT_TTL_MS });
      const client = registryClient(opts);
      try {
        // Fail before starting the child: a service that can never be registered should not run unnoticed.
        await client.status();
        const [bin, ...args] = command;
        const code = await superviseChild({
          client, spec, command: bin!, args, env: ctx.io.env, port,
          log: (line) => ctx.io.err(`${line}\n`),
        });
        process.exitCode = code;
      } finally {
        await client.close();
      }
    });
}
