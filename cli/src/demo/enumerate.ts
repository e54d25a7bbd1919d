/**
 * Step 1: find the hardware as firmware does — walk bus 0 through PCI configuration mechanism
 * #1 (0xcf8/0xcfc), read each function's IDs and class, then size and assign edu's BAR0 and
 * turn on memory decoding and bus mastering (without MASTER, edu's DMA is refused).
 */

import { EDU_DEVICE, EDU_VENDOR } from '@emuhost/testing/drivers';
import type { DemoContext, DemoStep } from './context.js';
import { EduDriver } from './edu.js';
import { formatSize, hex } from './report.js';

/** PCI base class and subclass → what a listing calls it. */
const CLASSES: Readonly<Record<number, string>> = {
  1536: 'host bridge',
  1537: 'ISA/LPC bridge',
  262: 'SATA controller',
  3077: 'SMBus controller',
  255: 'unclassified',
};

const slot = (devfn: number) => `${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}`;

export const enumerate: DemoStep = {
  title: 'PCI enumeration (config mechanism #1 at 0xcf8/0xcfc)',
  run(demo: DemoContext, out) {
    const found = demo.drv.pciDevices();
    // The first edu by IDs, unless the machine has several: then the one the demo was given.
    const edus = found.filter((f) => f.vendorId === EDU_VENDOR && f.deviceId === EDU_DEVICE);
    const pci = edus.find((f) => f.devfn === (demo.target.eduRequesterId & 0xff)) ?? edus[0];
    out.require('edu (1234:11e8) on bus 0', pci !== undefined, 'found', 'not found');
    out.ok(`${found.length} functions answer on bus 0:`);
    for (const f of found) {
      const cls = f.configRead(0x0a, 2);
      const name = edus.includes(f) ? 'edu' : (CLASSES[cls] ?? `class ${hex(cls, 4)}`);
      out.note(
        `${slot(f.devfn)}  ${hex(f.vendorId, 4).slice(2)}:${hex(f.deviceId, 4).slice(2)}  ${name}`,
      );
    }

    const bar = pci!.iomap(0);
    pci!.enable();
    const cmd = pci!.configRead(0x04, 2);
    out.expect('edu BAR0 kind', bar.kind, 'memory');
    out.expect('COMMAND.MEM|MASTER', cmd & 0x6, 0x6, (v) => hex(v));
    demo.edu = new EduDriver(demo.drv, pci!, bar.addr);
    demo.eduRid = pci!.devfn; // bus 0
    out.expect(`${demo.target.edu}'s requester id`, demo.eduRid, demo.target.eduRequesterId, (v) =>
      hex(v, 4),
    );
    out.ok(
      `edu ${slot(pci!.devfn)}: BAR0 ${formatSize(bar.size)} at ${hex(bar.addr)}, COMMAND ${hex(cmd, 4)} (memory, bus master), requester id ${hex(demo.eduRid, 4)}`,
    );
  },
};
