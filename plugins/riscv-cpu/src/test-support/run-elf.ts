/**
 * `node scripts/run-ts.mjs plugins/riscv-cpu/src/test-support/run-elf.ts FILE [--no-jit]
 * [--threshold N]`: runs a bare-metal ELF (bench/guest) and prints its exit code and speed. For
 * profiling the CPU (`node --cpu-prof` on the bundle run-ts writes).
 */
import { runBareElf } from './isa-test.js';

const args = process.argv.slice(2);
const file = args[0];
if (file === undefined) {
  console.error('usage: run-elf.ts FILE [--no-jit] [--threshold N]');
  process.exit(2);
}
const t = args.indexOf('--threshold');
const r = runBareElf(file, {
  jit: !args.includes('--no-jit'),
  ...(t >= 0 && { jitThreshold: Number(args[t + 1]) }),
});
console.log(
  `exit ${r.exitCode} instructions ${r.instructions} ms ${r.ms.toFixed(0)} MIPS ${(r.instructions / r.ms / 1000).toFixed(1)}`,
);
