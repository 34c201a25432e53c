// Calls back when a directory's definition files change: fs.watch on the directory for promptness (new,
// renamed, edited and removed files all raise events there), and a stat poll of the listing for file systems
// where fs.watch is silent. The callback fires once per settled change, and only when names, sizes, mtimes
// or inodes really changed.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDefinitionFile } from './parse.js';

export interface DirWatch { close(): void }

/** The directory's definition files with their stat facts, as one comparable string ('missing' if no dir). */
export async function listingSignature(dir: string): Promise<string> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter(isDefinitionFile).sort();
  } catch {
    return 'missing';
  }
  const parts = await Promise.all(names.map(async (name) => {
    try {
      const s = await stat(join(dir, name));
      return `${name}:${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return `${name}:gone`;
    }
  }));
  return parts.join('|');
}

export function watchDirectory(dir: string, initial: string, onChange: () => void, opts: { debounceMs?: number; pollMs?: number } = {}): DirWatch {
  let last = initial;
  let closed = false;
  let checking = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    if (closed || checking) return;
    checking = true;
    try {
      const now = await listingSignature(dir);
      if (!closed && now !== last) { last = now; onChange(); }
    } finally {
      checking = false;
    }
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = undefined; void check(); }, opts.debounceMs ?? 100);
    timer.unref();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, schedule);
    watcher.on('error', () => { /* the directory went away: the poll notices */ });
  } catch { /* no inotify here: the poll covers it */ }
  const poll = setInterval(() => void check(), opts.pollMs ?? 2_000);
  poll.unref();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
