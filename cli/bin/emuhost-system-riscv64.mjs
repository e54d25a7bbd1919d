#!/usr/bin/env node
// `emuhost-system-riscv64`: runs a RISC-V machine from qemu-system-riscv64's command line
// (`-M virt -kernel Image -nographic ...`).
import { runTs } from '../../scripts/ts-entry.mjs';

await runTs('cli/src/system-main.ts', process.argv.slice(2));
