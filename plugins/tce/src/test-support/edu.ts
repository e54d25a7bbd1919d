/**
 * Test support: QEMU's edu (the bundled plugins/edu) is the DMA requester of the TCE tests,
 * driven by @emuhost/testing's edu guest driver as a guest driver would drive it.
 */
import { fileURLToPath } from 'node:url';
import type { LoadedPlugin } from '@emuhost/host';
import { loadPluginDir } from '@emuhost/testing';

export { EDU_DMA as DMA, EDU_OPTIONS, findEdu } from '@emuhost/testing';

const EDU_DIR = fileURLToPath(new URL('../../../edu', import.meta.url));

let edu: Promise<LoadedPlugin> | undefined;

/** Builds (once per test file) and loads edu. */
export function loadEdu(): Promise<LoadedPlugin> {
  edu ??= loadPluginDir(EDU_DIR);
  return edu;
}
