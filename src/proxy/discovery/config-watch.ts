// Calls back when the config file changes. It watches the file's directory, not the file: editors and
// `mv`-style atomic writes replace the inode, which a watch on the file itself would silently lose.
// Changes are debounced so a save that lands as several writes triggers one reload.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export function watchConfig(file: string, onChange: () => void, debounceMs = 150): () => void {
  const abs = resolve(file);
  const name = basename(abs);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(abs), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => { timer = undefined; onChange(); }, debounceMs);
    });
    watcher.on('error', () => undefined); // the directory went away: SIGHUP still reloads
  } catch {
    // No inotify (or no permission): SIGHUP still reloads.
  }
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    watcher?.close();
  };
}
