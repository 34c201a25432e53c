// What `mesh register` does once its flags are parsed (registered in ../commands/register.ts).
import { formatDuration } from '../../core/duration.js';
import { KeepAlive } from '../../registry/keep-alive.js';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';
import { specFromFlags, type InstanceFlags } from '../registry-flags.js';
import { untilSignal } from '../../core/signals.js';

export type RegisterFlags = InstanceFlags & RegistryClientFlags & { address?: string; file?: string; keepAlive?: boolean; json?: boolean };

export async function register(ctx: CommandContext, service: string | undefined, opts: RegisterFlags): Promise<void> {
  if (opts.file !== undefined) {
    await registerFromFile(ctx, opts, opts.file);
    return;
  }
  // checkRegisterArguments (../commands/register.ts) ran before this module loaded.
  const spec = specFromFlags(service!, opts.address!, opts);
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

/** `mesh register -f <file>`: every instance the file defines, through the API (for hosts without a daemon). */
async function registerFromFile(ctx: CommandContext, opts: RegisterFlags, file: string): Promise<void> {
  const client = registryClient(opts);
  try {
    const { registerFile } = await import('../../registry/definitions/register-file.js');
    const res = await registerFile(client, file);
    ctx.io.out(opts.json ? `${JSON.stringify(res, null, 2)}\n` : res.instances.map((i) => `registered ${i.service}/${i.id} at ${i.address} (index ${i.modifyIndex})\n`).join(''));
  } finally {
    await client.close();
  }
}
