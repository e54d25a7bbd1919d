/** The source watcher sees the saves editors make, the safe way (rename over) included. */
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchTree } from './watch-tree.js';

/** Resolves with the first change under the tree whose path ends with `end`. */
function next(seen: string[], end: string): Promise<void> {
  return new Promise((done) => {
    const poll = () => (seen.some((f) => f.endsWith(end)) ? done() : setTimeout(poll, 10));
    poll();
  });
}

describe('watchTree', { timeout: 60_000 }, () => {
  it('sees writes, rename-over saves again and again, new directories; not dist', async () => {
    const root = mkdtempSync(join(tmpdir(), 'emuhost-watch-'));
    mkdirSync(join(root, 'src'));
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, 'src', 'a.ts'), '1');
    const seen: string[] = [];
    const stop = watchTree(root, (f) => seen.push(f));
    try {
      writeFileSync(join(root, 'dist', 'out.js'), 'x');
      for (let i = 0; i < 3; i++) {
        seen.length = 0;
        // What vim and sed -i do: a new file renamed over the old one.
        writeFileSync(join(root, 'src', '.a.ts.swp'), String(i));
        renameSync(join(root, 'src', '.a.ts.swp'), join(root, 'src', 'a.ts'));
        await next(seen, 'a.ts');
      }
      mkdirSync(join(root, 'src', 'sub'));
      await next(seen, 'sub');
      writeFileSync(join(root, 'src', 'sub', 'b.ts'), '2');
      await next(seen, 'b.ts');
      expect(seen.some((f) => f.includes('dist'))).toBe(false);
    } finally {
      stop();
    }
  });
});
