/**
 * Whether DMA tracing is compiled in. Always true, except in the benchmark's comparison
 * build, which bundles the kernel with esbuild `define: { 'globalThis.__EMUHOST_TRACE__':
 * 'false' }` so that `dma.trace.untapped.ratio` can compare "hooks present, untapped" with
 * "no tracing code at all" in the same run. A module constant, so V8 folds it.
 */
declare global {
  var __EMUHOST_TRACE__: boolean | undefined;
}

export const TRACE_BUILD: boolean = globalThis.__EMUHOST_TRACE__ ?? true;
