/**
 * The i440FX programmable attribute map (PAM): thirteen segments of 0xC0000..0xFFFFF whose
 * reads and writes each go either to RAM or to the PCI side, set by a nibble per segment
 * (bit 0: reads from RAM, bit 1: writes to RAM).
 *
 * Built from the kernel's aliases, priorities and one-direction decoding, no special case:
 * per segment, a read-only and a write-only alias of RAM (priority 2) over an alias of the
 * PCI address space (priority 1) over RAM itself. A mode enables the RAM aliases it names;
 * a direction whose RAM alias is off falls through to the PCI side. QEMU models only part of
 * this ("XXX: should distinguish read/write cases" in its pam.c); this follows the datasheet.
 */
import type { ContainerHandle, MachineContext, RegionHandle } from '@emuhost/sdk';

export const PAM_CONFIG = 0x59;

/** Segment i: the BIOS area for 0, then twelve 16 KiB expansion areas from 0xC0000. */
export function pamSegment(i: number): { start: number; size: number } {
  return i === 0
    ? { start: 0xf0000, size: 0x10000 }
    : { start: 0xc0000 + (i - 1) * 0x4000, size: 0x4000 };
}

/** Which config byte and nibble holds segment i's mode. */
export function pamNibble(i: number): { offset: number; shift: number } {
  return { offset: PAM_CONFIG + Math.ceil(i / 2), shift: i % 2 === 1 ? 0 : 4 };
}

export interface Pam {
  /** Applies the PAM bytes (config 0x59..0x5f) to the map. */
  update(config: (offset: number) => number): void;
}

export function createPam(ctx: MachineContext, ram: RegionHandle, pciSpace: ContainerHandle): Pam {
  const segs: { read: RegionHandle; write: RegionHandle }[] = [];
  for (let i = 0; i < 13; i++) {
    const { start, size } = pamSegment(i);
    const pci = ctx.alias(`pam-pci-${i}`, pciSpace, start, size);
    const read = ctx.alias(`pam-ram-r-${i}`, ram, start, size);
    const write = ctx.alias(`pam-ram-w-${i}`, ram, start, size);
    ctx.setDecodes(read, 'read');
    ctx.setDecodes(write, 'write');
    ctx.place(ctx.system, pci, start, 1);
    ctx.place(ctx.system, read, start, 2);
    ctx.place(ctx.system, write, start, 2);
    segs.push({ read, write });
  }
  return {
    update(config) {
      ctx.transaction(() => {
        segs.forEach((s, i) => {
          const { offset, shift } = pamNibble(i);
          const mode = (config(offset) >> shift) & 3;
          ctx.setEnabled(s.read, (mode & 1) !== 0);
          ctx.setEnabled(s.write, (mode & 2) !== 0);
        });
      });
    },
  };
}
