/**
 * The sandbox suite: what each level costs a device. An MMIO read that reaches a plugin's
 * callback, per level, against a direct call of an equivalent host function; a 4 KiB DMA
 * issued from confined plugin code against a raw copy; a synchronous call into an isolated
 * plugin in microseconds; what a `vm` timeout per call would cost (the way to make a
 * same-thread level stoppable, which is why bundles from outside the repository default to
 * isolated: see host's `defaultLevel`); and the one-off costs of a locked realm and a
 * compartment.
 *
 * The plugin is the same bundle text at every level: a register file read through a
 * DataView (indexed typed-array stores are slow in a locked realm; reads are not), and a
 * register that, written with n, makes n 4 KiB DMA reads from plugin code.
 */
import vm from 'node:vm';
import { type AddressSpace, CPU_ATTRS } from '@emuhost/core';
import { bareMachine, Emulator, PluginHost } from '@emuhost/host';
import { createLockedRealm, type SandboxLevel } from '@emuhost/sandbox';
import { createDriver } from '@emuhost/testing';
import { type BenchCase, median } from '../harness.js';
import { costRatio, type Metric, speedRatio } from '../metrics.js';
import type { Suite } from '../suite.js';

const PLUGIN = `const { definePlugin, iova } = require('@emuhost/sdk');
module.exports.default = definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0x5b0c, classCode: 0xff0000 },
  create(ctx) {
    const regs = new DataView(new ArrayBuffer(0x100));
    for (let i = 0; i < 0x40; i += 4) regs.setUint32(i, i * 0x01010101, true);
    const buf = new Uint8Array(4096);
    let done = 0;
    const r = ctx.mmio('regs', 0x100, {
      read: (o) => (o === 0x80 ? done : regs.getUint32(o & 0x3c, true)),
      write: (o, _s, v) => {
        if (o === 0x40) for (let n = Number(v); n > 0; n--) if (ctx.dma.read(iova(0x10000), buf) === 'ok') done++;
      },
    }, { valid: { min: 4, max: 4 }, impl: { min: 4, max: 4 } });
    ctx.pci.bar(0, { kind: 'memory', size: 0x100 }, r);
    return {};
  },
});`;
const MANIFEST = {
  id: 'bench-dev',
  version: '1.0.0',
  kind: 'device',
  sdk: '^1.0.0',
  entry: 'bench.js',
  capabilities: ['pci', 'dma'],
};
const INNER = 2000;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`sandbox suite: ${what}; timing it would time an error path`);
}

function machineWith(level: SandboxLevel) {
  const host = new PluginHost();
  const plugin = host.loadCode(MANIFEST, PLUGIN, { level });
  const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
  emu.addDevice(plugin);
  const d = createDriver(emu);
  const dev = d.pciFind(0x1234, 0x5b0c)!;
  const bar = dev.iomap(0).addr;
  dev.enable();
  const as = emu.machine.memory as AddressSpace<number>;
  check(as.load(bar + 8, 4) === 0x08080808, `${level} MMIO read`);
  as.store(bar + 0x40, 4, 3);
  check(as.load(bar + 0x80, 4) === 3, `${level} DMA from plugin code`);
  return { plugin, as, bar };
}

/**
 * The plugin's register read in a `vm` context of its own, entered once per call through a
 * script run with a `timeout`: the only way Node offers to stop a same-thread call that does
 * not return. Node starts a watchdog thread for each such run.
 */
function timedRead() {
  const context = vm.createContext({ o: 0 });
  vm.runInContext(
    `const regs = new DataView(new ArrayBuffer(0x100));
     for (let i = 0; i < 0x40; i += 4) regs.setUint32(i, i * 0x01010101, true);
     globalThis.read = (o) => regs.getUint32(o & 0x3c, true);`,
    context,
  );
  const script = new vm.Script('read(o)');
  return (o: number): number => {
    context.o = o;
    return script.runInContext(context, { timeout: 1000 }) as number;
  };
}

/** The same work as the plugin's read, as a host function the baseline calls directly. */
function directRead() {
  const regs = new DataView(new ArrayBuffer(0x100));
  for (let i = 0; i < 0x40; i += 4) regs.setUint32(i, i * 0x01010101, true);
  return (o: number) => regs.getUint32(o & 0x3c, true);
}

export const sandboxSuite: Suite = {
  name: 'sandbox',
  run(ctx) {
    const read = directRead();
    const direct: BenchCase = {
      name: 'direct',
      inner: INNER,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) s = (s + read((i << 2) & 0x3c)) | 0;
        return s;
      },
    };
    const mmioCase = (level: SandboxLevel, as: AddressSpace<number>, bar: number): BenchCase => ({
      name: `mmio.${level}`,
      inner: INNER,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const v = as.load(bar + ((i << 2) & 0x3c), 4, 'little', CPU_ATTRS);
          s = (s + (typeof v === 'number' ? v : -1)) | 0;
        }
        return s;
      },
    });
    ctx.log('sandbox: trusted and confined calls');
    const trusted = machineWith('trusted');
    const confined = machineWith('confined');
    const raw4k = new Uint8Array(4096);
    const src4k = new Uint8Array(1 << 20).subarray(0x10000, 0x10000 + 4096);
    const t = ctx.measure([
      direct,
      mmioCase('trusted', trusted.as, trusted.bar),
      mmioCase('confined', confined.as, confined.bar),
      // 1024 copies per iteration: code in the locked realm takes longer to reach V8's
      // optimizing tier than host code, and the harness warms up by iterations.
      {
        name: 'raw.4k',
        inner: 1024,
        run(n) {
          for (let i = 0; i < n; i++) raw4k.set(src4k);
          return raw4k[0]!;
        },
      },
      {
        name: 'dma.trusted.4k',
        inner: 1024,
        run(n) {
          trusted.as.store(trusted.bar + 0x40, 4, n);
          return 0;
        },
      },
      {
        name: 'dma.confined.4k',
        inner: 1024,
        run(n) {
          confined.as.store(confined.bar + 0x40, 4, n);
          return 0;
        },
      },
    ]);

    ctx.log('sandbox: calls bounded by a vm timeout');
    const timed = timedRead();
    check(timed(8) === 0x08080808, 'a vm-timeout read');
    const tt = ctx.measure([
      mmioCase('confined', confined.as, confined.bar),
      {
        name: 'vm.timeout',
        inner: 8,
        run(n) {
          let s = 0;
          for (let i = 0; i < n; i++) s = (s + timed((i << 2) & 0x3c)) | 0;
          return s;
        },
      },
    ]);

    ctx.log('sandbox: isolated calls');
    const isolated = machineWith('isolated');
    const calls = 2000;
    const isoTimes: number[] = [];
    for (let round = 0; round < 5; round++) {
      const start = performance.now();
      for (let i = 0; i < calls; i++) isolated.as.load(isolated.bar + ((i << 2) & 0x3c), 4);
      isoTimes.push(((performance.now() - start) * 1000) / calls);
    }
    isolated.plugin.realm.dispose();

    ctx.log('sandbox: realm and compartment creation');
    const realmMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      createLockedRealm();
      realmMs.push(performance.now() - s);
    }
    const compartmentMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const s = performance.now();
      new PluginHost().loadCode(MANIFEST, PLUGIN, { level: 'confined' });
      compartmentMs.push(performance.now() - s);
    }

    const m: Metric[] = [
      {
        name: 'sandbox.call.trusted.ratio',
        value: t.paired(costRatio, 'mmio.trusted', 'direct'),
        unit: 'ratio',
        better: 'lower',
        detail: 'MMIO read reaching a trusted plugin callback ns / direct call of the same work ns',
      },
      {
        name: 'sandbox.call.confined.ratio',
        value: t.paired(costRatio, 'mmio.confined', 'direct'),
        unit: 'ratio',
        better: 'lower',
        detail:
          'MMIO read reaching a confined plugin callback ns / direct call of the same work ns',
      },
      {
        name: 'sandbox.dma.confined.4k.ratio',
        value: t.paired(speedRatio, 'raw.4k', 'dma.confined.4k'),
        unit: 'ratio',
        better: 'higher',
        target: 0.7,
        detail: 'Uint8Array.set of 4 KiB ns / a 4 KiB dma.read issued from confined plugin code ns',
      },
      {
        name: 'sandbox.dma.trusted.4k.ratio',
        value: t.paired(speedRatio, 'raw.4k', 'dma.trusted.4k'),
        unit: 'ratio',
        better: 'higher',
        detail: 'Uint8Array.set of 4 KiB ns / a 4 KiB dma.read issued from trusted plugin code ns',
      },
      {
        name: 'sandbox.call.timeout.us',
        value: tt.ns('vm.timeout') / 1000,
        unit: 'us',
        better: 'lower',
        detail:
          'one call into a vm context bounded by a timeout (a watchdog thread per call): what stopping a confined plugin would cost per MMIO access',
      },
      {
        name: 'sandbox.call.timeout.ratio',
        value: tt.paired(costRatio, 'vm.timeout', 'mmio.confined'),
        unit: 'ratio',
        better: 'lower',
        detail: 'a call bounded by a vm timeout ns / an MMIO read reaching a confined plugin ns',
      },
      {
        name: 'sandbox.call.isolated.us',
        value: median(isoTimes),
        unit: 'us',
        better: 'lower',
        detail:
          'one MMIO read reaching an isolated plugin (a synchronous round trip to its worker)',
      },
      {
        name: 'sandbox.realm.create.ms',
        value: median(realmMs),
        unit: 'ms',
        better: 'lower',
        detail: 'a new locked realm: vm context, SES, lockdown, membrane (once per process)',
      },
      {
        name: 'sandbox.plugin.load.confined.ms',
        value: median(compartmentMs),
        unit: 'ms',
        better: 'lower',
        detail:
          'loading a plugin confined: manifest, a compartment, SDK and bundle evaluated in it',
      },
    ];
    return m;
  },
};
