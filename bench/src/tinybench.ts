/** tinybench 6, the runner under the harness (vitest brings an older tinybench to the root). */
export { Bench, type BenchOptions } from 'tinybench';
