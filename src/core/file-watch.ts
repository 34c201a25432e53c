// Watches a few files (certificates, keys, policy, config) and calls back once per settled change.
// Editors and `mesh certs gen` replace files by rename, which fs.watch on the file itself loses track of, so the
// parent directories are watched and events filtered by name; a slow stat poll covers file systems where
// fs.watch is silent (network mounts, some containers). Callbacks fire only when size/mtime/inode really changed.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

export interface FileWatchOptions {
  /** Quiet time after the last event before the callback runs (a cert and its key land together). */
  debounceMs?: number;
  /** Stat poll interval, the fallback when fs.watch delivers nothing. 0 turns polling off. */
  pollMs?: number;
}

export interface FileWatch { close(): void }

function signatureSync(paths: string[]): string {
  return paths.map((p) => {
    try {
      const s = statSync(p);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }).join('|');
}

async function signature(paths: string[]): Promise<string> {
  const parts = await Promise.all(paths.map(async (p) => {
    try {
      const s = await stat(p);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }));
  return parts.join('|');
}

export function watchFiles(pathsIn: string[], onChange: () => void, opts: FileWatchOptions = {}): FileWatch {
  const paths = pathsIn.map((p) => resolve(p));
  const debounceMs = opts.debounceMs ?? 200;
  const pollMs = opts.pollMs ?? 2000;
  let last = signatureSync(paths);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let checking = false;

  const check = async () => {
    if (closed || checking) return;
    checking = true;
    try {
      const now = await signature(paths);
      if (!closed && now !== last) {
        last = now;
        onChange();
      }
    } finally {
      checking = false;
    }
  };
  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = undefined; void check(); }, debounceMs);
    timer.unref();
  };

  const watchers: FSWatcher[] = [];
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) {
    const names = byDir.get(dirname(p)) ?? new Set<string>();
    names.add(basename(p));
    byDir.set(dirname(p), names);
  }
  for (const [dir, names] of byDir) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        // Some platforms omit the name; then any event in the directory is worth a stat.
        if (name === null || names.has(String(name))) schedule();
      });
      w.on('error', () => { /* the poll keeps going */ });
      watchers.push(w);
    } catch { /* directory missing or watch unsupported: rely on the poll */ }
  }
  const poll = pollMs > 0 ? setInterval(() => void check(), pollMs) : undefined;
  poll?.unref();

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
