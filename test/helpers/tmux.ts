// A private tmux server for end-to-end terminal tests: its socket lives in a temporary directory the test
// removes, `screen()` captures the pane named "top", and `seen()` waits for a screen a predicate accepts
// (failing with the last screen, so a broken run shows what the user would have seen).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { eventually, tempDir } from './mesh.js';

export function privateTmux(prefix: string) {
  const dir = tempDir(prefix);
  const tmux = (...args: string[]) => spawnSync('tmux', ['-S', join(dir.path, 'sock'), ...args], { encoding: 'utf8' });
  let lastScreen = '';
  const screen = () => (lastScreen = tmux('capture-pane', '-p', '-t', 'top').stdout);
  async function seen(pred: (s: string) => boolean, timeoutMs: number): Promise<string> {
    try {
      return await eventually(() => { const s = screen(); return pred(s) ? s : ''; }, timeoutMs, 100);
    } catch (err) {
      throw new Error(`${(err as Error).message}; the screen was:\n${lastScreen}`);
    }
  }
  return { dir, tmux, screen, seen };
}
