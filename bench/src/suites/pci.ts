/**
 * The PCI suite: a configuration-space read through mechanism #1 (core/src/pci), as a
 * libqos client makes it: a 4-byte store of CONFIG_ADDRESS to port 0xcf8, then a 4-byte load
 * from 0xcfc, on a pc-shaped machine (core/src/pci/pci.test.ts's pcLike) with one function.
 *
 * The path: port I/O dispatch to the address latch, then port I/O dispatch to the data
 * port, decoding of the latched address, the bus's function lookup and the function's
 * config-space read.
 *
 * The baseline is two direct calls of trivial functions doing the minimum any config read
 * must do: latch the address in a register, then return the dword it selects from a plain
 * copy of the function's header. V8 inlines both, so it is a typed-array store and two
 * loads; the ratio says what the two port dispatches and the PCI layers cost on top.
 *
 * Port I/O shares `AddressSpace.load`/`store` with the memory suite's cases, which run
 * first, so the figure is for that mixed state, as in a machine with RAM, MMIO and ports.
 */
import { attachConfigMechanism1, createMachine, PciBus } from '@emuhost/core';
import type { IoPortAddr } from '@emuhost/sdk';
import type { BenchCase } from '../harness.js';
import { costRatio, type Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

const CONFIG_ADDRESS = 0xcf8 as IoPortAddr;
const CONFIG_DATA = 0xcfc as IoPortAddr;
/** Slot 2, function 0, as in core's PCI tests. */
const DEVFN = 2 << 3;
/** Reads cycle over the 16 dwords of the type-0 header. */
const HEADER_DWORDS = 16;
const OFFSET_MASK = (HEADER_DWORDS - 1) << 2;

const INNER = 2_000;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`pci suite: ${what}; timing it would time an error path`);
}

/** CONFIG_ADDRESS for bus 0: enable bit, devfn, register offset (as libqos builds it). */
const configAddress = (devfn: number, offset: number) => (0x80000000 | (devfn << 8) | offset) >>> 0;

/** pcLike(): RAM, a PCI bus whose memory shows below RAM, CF8/CFC; one function attached. */
function pcLike() {
  const m = createMachine();
  const ms = m.memorySystem;
  const ram = ms.createRam('ram', 16 << 20);
  const pciMem = ms.createContainer('pci-memory', 2 ** 53);
  const bus = new PciBus('pci.0', { memory: pciMem, io: m.systemIo, dma: m.dma });
  m.pciBuses.set('pci.0', bus);
  ms.transaction(() => {
    m.systemMemory.addSubregion(ram, 0);
    m.systemMemory.addSubregion(pciMem, 0, { priority: -1 });
    attachConfigMechanism1(ms, m.systemIo, (n) => (n === 0 ? bus : undefined));
  });
  m.attachDevice('bench-dev', (scope) => {
    scope.attachPci(bus, DEVFN, {
      vendorId: 0x1234,
      deviceId: 0x11e8,
      revision: 0x10,
      classCode: 0x00ff00,
      interruptPin: 1,
    });
    return {};
  });
  return m;
}

export const pciSuite: Suite = {
  name: 'pci',
  run(ctx) {
    ctx.log('building a pc-like machine with one PCI function behind CF8/CFC');
    const m = pcLike();
    const io = m.io;
    // The baseline's copy of the header, read through the real path; also the check.
    const header = new Uint32Array(HEADER_DWORDS);
    for (let d = 0; d < HEADER_DWORDS; d++) {
      check(io.store(CONFIG_ADDRESS, 4, configAddress(DEVFN, d << 2)) === 'ok', 'CF8 store');
      const v = io.load(CONFIG_DATA, 4);
      check(typeof v === 'number', `CFC load of dword ${d}`);
      header[d] = v as number;
    }
    check(header[0] === 0x11e81234 && header[2] === 0x00ff0010, 'vendor/device and class read');
    io.store(CONFIG_ADDRESS, 4, configAddress(DEVFN + 1, 0));
    check(io.load(CONFIG_DATA, 4) === 0xffffffff, 'an absent function reads all-ones');

    // The latch is a one-register file: a `let` would box every address >= 2^31 (all of
    // them, with the enable bit) in a fresh HeapNumber, a cost of the variable, not of PCI.
    const latched = new Uint32Array(1);
    const latch = (addr: number) => {
      latched[0] = addr;
    };
    const data = () => header[(latched[0]! & OFFSET_MASK) >>> 2]!;
    latch(configAddress(DEVFN, 8));
    check(data() === header[2], 'the baseline reads the same dword');

    const direct: BenchCase = {
      name: 'config.direct',
      inner: INNER,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          latch(configAddress(DEVFN, (i << 2) & OFFSET_MASK));
          s = (s + data()) | 0;
        }
        return s;
      },
    };
    const ours: BenchCase = {
      name: 'config.cf8cfc',
      inner: INNER,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          io.store(CONFIG_ADDRESS, 4, configAddress(DEVFN, (i << 2) & OFFSET_MASK));
          const v = io.load(CONFIG_DATA, 4);
          s = (s + (typeof v === 'number' ? v : -1)) | 0;
        }
        return s;
      },
    };
    const t = ctx.measure([direct, ours]);
    const metrics: Metric[] = [
      {
        name: 'pci.config.cf8cfc.ns',
        value: t.ns('config.cf8cfc'),
        unit: 'ns/op',
        better: 'lower',
        detail: '4-byte config read: store to 0xcf8, load from 0xcfc, 1 function',
      },
      {
        name: 'pci.config.cf8cfc.ratio',
        value: t.paired(costRatio, 'config.cf8cfc', 'config.direct'),
        unit: 'ratio',
        better: 'lower',
        detail: 'CF8/CFC ns / direct latch() + data() ns (dword from a Uint32Array)',
      },
    ];
    return metrics;
  },
};
