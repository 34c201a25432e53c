// What `mesh deregister` does once its arguments are parsed (registered in ../commands/deregister.ts).
import { validateInstanceId, validateServiceName } from '../../core/validate.js';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';

export async function deregister(ctx: CommandContext, service: string, id: string, opts: RegistryClientFlags & { json?: boolean }): Promise<void> {
  validateServiceName(service);
  validateInstanceId(id);
  const client = registryClient(opts);
  try {
    const res = await client.deregister(service, id);
    ctx.io.out(opts.json ? `${JSON.stringify(res, null, 2)}\n` : `deregistered ${service}/${id} (index ${res.index})\n`);
  } finally {
    await client.close();
  }
}
