// `mesh register <service> --address host:port …`: one registration, or with --keep-alive a foreground
// registration that heartbeats until SIGINT/SIGTERM and then deregisters.
import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import { UsageError } from '../../core/errors.js';
import { KeepAlive } from '../../registry/keep-alive.js';
import { addJsonOption, addRegistryClientOptions, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { addInstanceOptions, registryClient, specFromFlags, type InstanceFlags } from '../registry-flags.js';
import { untilSignal } from '../signals.js';

type RegisterFlags = InstanceFlags & RegistryClientFlags & { address?: string; file?: string; keepAlive?: boolean; json?: boolean };

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
  mesh register orders --address 127.0.0.1:8080 --tag version=v2 --check-http http://127.0.0.1:8080/healthz
  mesh register orders --address 127.0.0.1:8081 --ttl 10s --keep-alive
  mesh register -f orders.yaml
`)
    .action(async (service: string | undefined, opts: RegisterFlags) => {
      if (opts.file !== undefined) {
        const instanceFlags = (['id', 'weight', 'priority', 'zone', 'tag', 'tlsPort', 'ttl', 'checkHttp', 'checkTcp', 'interval', 'timeout', 'deregisterAfter'] as const).some((k) => opts[k] !== undefined);
        if (service !== undefined || opts.address !== undefined || opts.keepAlive || instanceFlags) {
          throw new UsageError('-f takes everything from the file: do not also give a service, --address, instance flags or --keep-alive');
        }
        const client = registryClient(opts);
        try {
          const { registerFile } = await import('../../registry/definitions/register-file.js');
          const res = await registerFile(client, opts.file);
          ctx.io.out(opts.json ? `${JSON.stringify(res, null, 2)}\n` : res.instances.map((i) => `registered ${i.service}/${i.id} at ${i.address} (index ${i.modifyIndex})\n`).join(''));
        } finally {
          await client.close();
        }
        return;
      }
      if (service === undefined) {
        throw new UsageError(`missing required argument 'service'${opts.address === undefined ? " and option '--address <host:port>' (or register from a file with -f <file>)" : ''}`);
      }
      if (opts.address === undefined) throw new UsageError("required option '--address <host:port>' not specified");
      const spec = specFromFlags(service, opts.address, opts);
      const client = registryClient(opts);
      try {
        if (!opts.keepAlive) {
          const res = await client.register(spec);
          ctx.io.out(opts.json ? `${JSON.stringify(res, null, 2)}\n` : `registered ${spec.service}/${spec.id} at ${spec.address} (index ${res.index})\n`);
          return;
        }
        const keeper = new KeepAlive(client, spec, { log: (line) => ctx.io.err(`${line}\n`) });
        const res = await keeper.start();
        const every = spec.check?.ttlMs !== undefined ? `heartbeating every ${formatDuration(Math.floor(spec.check.ttlMs / 3))}` : 'holding the registration';
        ctx.io.out(opts.json ? `${JSON.stringify(res, null, 2)}\n` : `registered ${spec.service}/${spec.id} at ${spec.address} (index ${res.index})\n`);
        ctx.io.err(`mesh: ${every}; press Ctrl-C (or send SIGTERM) to deregister\n`);
        const signal = await untilSignal();
        await keeper.stop();
        ctx.io.err(`mesh: ${signal}: deregistered ${spec.service}/${spec.id}\n`);
      } finally {
        await client.close();
      }
    });
}
