// `mesh register <service> --address host:port …`: one registration, or with --keep-alive a foreground
// registration that heartbeats until SIGINT/SIGTERM and then deregisters.
import type { Command } from 'commander';
import type { RegisterFlags } from '../actions/register.js';
import { addJsonOption, addRegistryClientOptions } from '../common.js';
import type { CommandContext } from '../program.js';
import { addInstanceOptions } from '../registry-flags.js';

export function registerRegisterCommand(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('register')
    .description('Register an instance of a service with the registry (idempotent: registering the same id again replaces it).')
    .argument('<service>', 'The service name: a DNS label such as orders.')
    .requiredOption('--address <host:port>', 'Where the instance listens: host:port, with IPv6 as [addr]:port.');
  addInstanceOptions(cmd);
  cmd.option('--keep-alive', 'Stay in the foreground: heartbeat every TTL/3 until SIGINT or SIGTERM, then deregister.');
  addJsonOption(addRegistryClientOptions(cmd))
    .addHelpText('after', `
Examples:
  mesh register orders --address 127.0.0.1:8080 --tag version=v2 \\
    --check-http http://127.0.0.1:8080/healthz
  mesh register orders --address 127.0.0.1:8081 --ttl 10s --keep-alive
`)
    .action(async (service: string, opts: RegisterFlags) => (await import('../actions/register.js')).register(ctx, service, opts));
}
