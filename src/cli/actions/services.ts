// What `mesh services [service]` does once its arguments are parsed (registered in ../commands/services.ts).
import chalk from 'chalk';
import { validateServiceName } from '../../core/validate.js';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';
import { renderJson, renderServicesTable, renderServiceTable } from '../render/services.js';

export async function services(ctx: CommandContext, service: string | undefined, opts: RegistryClientFlags & { json?: boolean }): Promise<void> {
  if (service !== undefined) validateServiceName(service);
  const color = ctx.io.stdoutIsTTY && chalk.level > 0;
  const client = registryClient(opts);
  try {
    if (service === undefined) {
      const view = await client.services();
      ctx.io.out(opts.json ? renderJson(view) : renderServicesTable(view, { color }));
    } else {
      const view = await client.service(service);
      ctx.io.out(opts.json ? renderJson(view) : renderServiceTable(view, { color, now: Date.now() }));
    }
  } finally {
    await client.close();
  }
}
