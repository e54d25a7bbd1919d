#!/usr/bin/env node
// `emuhost-system-x86_64`: a drop-in for qemu-system-x86_64 under a qtest harness (QEMU's
// libqtest derives the target architecture from this name). Takes QEMU's argv unchanged.
import { launch } from './launch.mjs';

await launch('qtest-main.js');
