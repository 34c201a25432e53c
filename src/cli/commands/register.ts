// `mesh register <service> --address host:port …`: one registration, or with --keep-alive a foreground
// registration that heartbeats until SIGINT/SIGTERM and then deregisters; `-f <file>` registers a file's instances.
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { RegisterFlags } from '../actions/register.js';
import { addJsonOption, addRegistryClientOptions } from '../common.js';
import type { CommandContext } from '../context.js';
import { addInstanceOptions } from '../registry-flags.js';

export function registerRegisterCommand(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('register')
    .description('Register an instance of a service with the registry (idempotent: registering the same id again replaces it).')
    .argument('[service]', 'The service name: a DNS label such as orders (required unless -f is given).')
    .option('--address <host:port>', 'Where the instance listens: host:port, with IPv6 as [addr]:port (required unless -f is given).')
    .option('-f, --file <file>', 'Register every instance defined in this YAML or JSON file (the format of `mesh registry start --services-dir`) instead.');
  addInstanceOptions(cmd);
  cmd.option('--keep-alive', 'Stay in the foreground: heartbeat every TTL/3 until SIGINT or SIGTERM, then deregister.');
  addJsonOption(addRegistryClientOptions(cmd))
    .addHelpText('after', `
Examples:
  mesh register orders --address 127.0.0.1:8080 --tag version=v2 \\
    --check-http http://127.0.0.1:8080/healthz
  mesh register orders --address 127.0.0.1:8081 --ttl 10s --keep-alive
  mesh register -f orders.yaml
`)
    .action(async (service: string | undefined, opts: RegisterFlags) => {
      checkRegisterArguments(service, opts);
      return (await import('../actions/register.js')).register(ctx, service, opts);
    });
}

/** Either a service with --address, or -f alone: a usage error (exit 2) before any action code loads. */
function checkRegisterArguments(service: string | undefined, opts: RegisterFlags): void {
  if (opts.file !== undefined) {
    const instanceFlags = (['id', 'weight', 'priority', 'zone', 'tag', 'tlsPort', 'ttl', 'checkHttp', 'checkTcp', 'interval', 'timeout', 'deregisterAfter'] as const).some((k) => opts[k] !== undefined);
    if (service !== undefined || opts.address !== undefined || opts.keepAlive || instanceFlags) {
      throw new UsageError('-f takes everything from the file: do not also give a service, --address, instance flags or --keep-alive');
    }
    return;
  }
  if (service === undefined) {
    throw new UsageError(`missing required argument 'service'${opts.address === undefined ? " and option '--address <host:port>' (or register from a file with -f <file>)" : ''}`);
  }
  if (opts.address === undefined) throw new UsageError("required option '--address <host:port>' not specified");
}
