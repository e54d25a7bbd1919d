/**
 * Watching a plugin's source tree for saves. One `fs.watch` per directory, not Node's
 * `recursive` option: on Linux (Node 20) that one watches each file, and loses a file for
 * good once an editor saves it the safe way (a new file renamed over the old one, as vim
 * and `sed -i` do); a directory's watch sees those renames. Directories that appear later
 * are watched as they come. Build output, dependencies and dot-directories are not sources.
 */
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';

const SKIP = new Set(['dist', 'node_modules']);

/** Calls `onChange` for every change under `root`; returns the function that stops it. */
export function watchTree(root: string, onChange: (file: string) => void): () => void {
  const watchers = new Map<string, FSWatcher>();
  const add = (dir: string) => {
    if (watchers.has(dir)) return;
    let w: FSWatcher;
    try {
      w = watch(dir, (_event, name) => {
        if (name === null) return onChange(dir);
        const file = join(dir, String(name));
        if (skipped(String(name))) return;
        try {
          if (statSync(file).isDirectory()) add(file);
        } catch {
          // Gone again (an editor's temporary file): a change all the same.
        }
        onChange(file);
      });
    } catch {
      return; // a directory removed before it could be watched
    }
    w.on('error', () => {
      w.close();
      watchers.delete(dir);
    });
    watchers.set(dir, w);
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory() && !skipped(e.name)) add(join(dir, e.name));
  };
  add(root);
  return () => {
    for (const w of watchers.values()) w.close();
    watchers.clear();
  };
}

function skipped(name: string): boolean {
  return SKIP.has(name) || name.startsWith('.');
}
