// What `mesh run` does once its arguments are parsed (registered in ../commands/run.ts).
import { UsageError } from '../../core/errors.js';
import { formatHostPort, parseHostPort } from '../../core/validate.js';
import type { RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../program.js';
import { registryClient } from '../registry-client.js';
import { specFromFlags, type InstanceFlags } from '../registry-flags.js';
import { pickFreePort, superviseChild } from '../supervise.js';

export type RunFlags = InstanceFlags & RegistryClientFlags & { port?: number };

/** Without a check flag, `mesh run` registers a TTL instance it heartbeats itself, so a dead mesh run is noticed. */
const DEFAULT_TTL_MS = 10_000;

export async function run(ctx: CommandContext, service: string, command: string[], opts: RunFlags): Promise<void> {
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
}
