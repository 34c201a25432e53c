// A registry with service `web` on two tagged backends (version=v1, version=v2) and a temp dir, for the central
// config, fault and shift tests.
import { tempDir } from './mesh.js';
import { register, startBackend, type Backend } from './proxy.js';
import { startRegistry, type TestRegistry } from './registry.js';

type After = { after(fn: () => Promise<void> | void): void };

export async function startTwoVersions(t: After, prefix: string): Promise<{ dir: string; reg: TestRegistry; v1: Backend; v2: Backend }> {
  const dir = tempDir(prefix);
  t.after(dir.cleanup);
  const reg = await startRegistry(t);
  const v1 = await startBackend(t, 'web-v1');
  const v2 = await startBackend(t, 'web-v2');
  await register(reg.url, 'web', v1, ['--tag', 'version=v1']);
  await register(reg.url, 'web', v2, ['--tag', 'version=v2']);
  return { dir: dir.path, reg, v1, v2 };
}
