// Runs one of the CLI's built entries (dist/). In a checkout of the repository (the sources
// beside dist/, the repository's scripts above), dist/ is first brought up to date with the
// sources, so `npx emuhost` in the repository never runs stale code; an installed package has
// neither and runs dist/ as it is.
import { existsSync } from 'node:fs';

export async function launch(entry) {
  const build = new URL('../../scripts/build-packages.mjs', import.meta.url);
  if (existsSync(new URL('../src/', import.meta.url)) && existsSync(build)) {
    await (await import(build.href)).ensureBuilt();
  }
  await import(new URL(`../dist/${entry}`, import.meta.url).href);
}
