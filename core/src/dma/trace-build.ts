/**
 * Whether DMA tracing is compiled in. Always true, except in the benchmark's comparison
 * build, which bundles the kernel with esbuild `define: { 'globalThis.__EMUHOST_TRACE__':
 * 'false' }` and `minifySyntax` (which then drops the tracing code), so that
 * `dma.trace.untapped.ratio` compares "hooks present, untapped" with "no tracing code at
 * all" in the same run. In normal builds the check is one field read per transfer.
 */
declare global {
  var __EMUHOST_TRACE__: boolean | undefined;
}

export const TRACE_BUILD: boolean = globalThis.__EMUHOST_TRACE__ ?? true;
