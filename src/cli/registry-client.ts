// The registry client built from --registry/--token/--ca. Its own module because it loads undici: only actions
// import it, never a command's registration (see the pattern at the top of program.ts).
import { RegistryClient } from '../registry/client.js';
import type { RegistryClientFlags } from './common.js';

export function registryClient(flags: RegistryClientFlags, timeoutMs?: number): RegistryClient {
  return new RegistryClient({
    url: flags.registry,
    ...(flags.token !== undefined ? { token: flags.token } : {}),
    ...(flags.ca !== undefined ? { caFile: flags.ca } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
}
