/**
 * Which V8 tier runs generated WebAssembly. A code-generating CPU plugin (rv64's tier 2)
 * compiles a hot guest page into one large function with a dispatch loop; measured on the
 * bench's integer workload (Node 20), V8's baseline compiler (Liftoff) runs that code 2-3x
 * faster than its optimizing one (TurboFan), which also spends seconds of background CPU
 * compiling it. So, once the first CPU is added, the host keeps WebAssembly on Liftoff for the
 * process (`EMUHOST_WASM_TIERUP=1` keeps V8's default, for measuring). Emuhost runs no other
 * WebAssembly.
 */
import v8 from 'node:v8';

let decided = false;

export function preferBaselineWasm(): void {
  if (decided) return;
  decided = true;
  if (process.env.EMUHOST_WASM_TIERUP === '1') return;
  v8.setFlagsFromString('--liftoff-only');
}
