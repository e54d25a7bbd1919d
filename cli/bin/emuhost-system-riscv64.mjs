#!/usr/bin/env node
// `emuhost-system-riscv64`: runs a RISC-V machine from qemu-system-riscv64's command line
// (`-M virt -kernel Image -nographic ...`).
import { launch } from './launch.mjs';

await launch('system-main.js');
