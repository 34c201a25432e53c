// What `mesh register` does once its flags are parsed (registered in ../commands/register.ts).
import { formatDuration } from '../../core/duration.js';
import { KeepAlive } from '../../registry/keep-alive.js';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { registryClient } from '../registry-client.js';
import { specFromFlags, type InstanceFlags } from '../registry-flags.js';
import { untilSignal } from '../signals.js';

export type RegisterFlags = InstanceFlags & RegistryClientFlags & { address: string; keepAlive?: boolean; json?: boolean };

export async function register(ctx: CommandContext, service: string, opts: RegisterFlags): Promise<void> {
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
}
