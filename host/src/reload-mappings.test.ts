/**
 * DMA mappings across a hot reload, at every sandbox level: the kernel keeps a device's live
 * mappings, the new instance adopts them (`dma.adoptMappings`), invalidation then reaches the
 * new instance only, the old instance's handles are revoked, and what nobody adopts is
 * released with a warning. At the sandboxed levels a mapping is a realm copy: what the old
 * instance wrote into it must reach the new one.
 */
import type { GuestPhysAddr } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { bareMachine } from './bare-machine.js';
import { Emulator } from './emulator.js';
import { PluginHost } from './plugin-host.js';
import { reloadDevice } from './reload.js';
import { enableBar0 } from './test-machine.js';

const phys = (n: number) => n as GuestPhysAddr;
const BAR = 0xe0000000;
const RING = 0x30000;
const MMIO_TARGET = 0xd0000000;
const REG = { addr: 0x00, len: 0x04, cmd: 0x08, push: 0x0c, valid: 0x10, inval: 0x14, code: 0x18 };

/**
 * A device that keeps a long-lived write mapping (a ring it fills with 32-bit records, as a
 * NIC fills a receive ring): cmd 1 maps `len` bytes at `addr`, cmd 2 releases what was
 * written. Its invalidation notifier counts and raises INTx, so a notifier of a revoked
 * instance would quarantine the device (its raise is refused).
 */
function ringCode(o: { code: number; adopt?: boolean; afterAdopt?: string }): string {
  const adopt =
    o.adopt === false
      ? 'undefined'
      : "(ctx.dma.adoptMappings?.(onInvalidate) ?? []).find((x) => x.addr === s.addr && x.access === 'write')";
  return `const { definePlugin, iova } = require('@emuhost/sdk');
module.exports.default = definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0x4e47, classCode: 0xff0000 },
  stateVersion: 1,
  create(ctx, state) {
    const s = state ?? { addr: 0, len: 0, cursor: 0, mapped: false, inval: 0 };
    let m;
    const onInvalidate = () => { s.inval++; ctx.irq.raise(); };
    if (s.mapped) {
      m = ${adopt};
      if (m === undefined) s.mapped = false;
    }
    ${o.afterAdopt ?? ''}
    const regs = ctx.mmio('regs', 0x100, {
      read(off) {
        switch (off) {
          case 0x00: return s.addr;
          case 0x04: return s.len;
          case 0x10: return m !== undefined && m.valid ? 1 : 0;
          case 0x14: return s.inval;
          case 0x18: return ${o.code};
          case 0x1c: return s.cursor;
          default: return 0;
        }
      },
      write(off, _size, value) {
        const v = Number(value);
        if (off === 0x00) s.addr = v;
        else if (off === 0x04) s.len = v;
        else if (off === 0x08 && v === 1) {
          const r = ctx.dma.map(iova(s.addr), s.len, 'write', onInvalidate);
          if (typeof r.release === 'function') { m = r; s.mapped = true; s.cursor = 0; }
        } else if (off === 0x08 && v === 2 && m !== undefined) {
          m.release(s.cursor);
          m = undefined;
          s.mapped = false;
        } else if (off === 0x0c && m !== undefined && m.valid && s.cursor + 4 <= m.bytes.length) {
          for (let i = 0; i < 4; i++) m.bytes[s.cursor + i] = (v >>> (8 * i)) & 0xff;
          s.cursor += 4;
        }
        return undefined;
      },
    }, { valid: { min: 4, max: 4 }, impl: { min: 4, max: 4 } });
    ctx.pci.bar(0, { kind: 'memory', size: 0x100 }, regs);
    return { saveState: () => ({ ...s }) };
  },
});`;
}

const MANIFEST = {
  id: 'ring',
  version: '1.0.0',
  kind: 'device',
  sdk: '^1.3.0',
  entry: 'src/index.ts',
  capabilities: ['pci', 'dma', 'irq'],
};

const LEVELS = ['trusted', 'confined', 'isolated'] as const;

describe.each(LEVELS)('DMA mappings across a hot reload, %s', (level) => {
  function boot() {
    const host = new PluginHost();
    const v1 = host.loadCode(MANIFEST, ringCode({ code: 1 }), { level });
    const emu = new Emulator({ machine: bareMachine(), ramSize: 16 << 20, log: () => {} });
    const dev = emu.addDevice(v1, { id: 'ring0' });
    const { rd, wr } = enableBar0(emu.machine, dev.slot.pci!.devfn, BAR);
    const mem = emu.machine.memory;
    const ctx = dev.slot.scope.dmaContexts[0]!;
    const next = (code: string, version = '1.1.0') =>
      host.loadCode({ ...MANIFEST, version }, code, { level, replace: true });
    const ring = (n: number, at = RING) => {
      const out = new Uint8Array(n * 4);
      mem.read(phys(at), out);
      return [...new Uint32Array(out.buffer)];
    };
    const mapRing = (at = RING, len = 0x100) => {
      wr(REG.addr, at);
      wr(REG.len, len);
      wr(REG.cmd, 1);
      expect(rd(REG.valid)).toBe(1);
    };
    /** The device holds its ring: `more` records, a release, and every record has landed. */
    const finishRing = (before: number[], more: number[]) => {
      expect(ctx.mappings.size).toBe(1);
      expect(rd(REG.valid)).toBe(1);
      for (const v of more) wr(REG.push, v);
      wr(REG.cmd, 2);
      expect(ctx.mappings.size).toBe(0);
      expect(ring(before.length + more.length + 1)).toEqual([...before, ...more, 0]);
    };
    const dispose = () => {
      for (const d of emu.devices.values()) d.plugin.realm.dispose();
      v1.realm.dispose();
    };
    return { host, v1, emu, dev, rd, wr, ctx, next, ring, mapRing, finishRing, dispose };
  }

  it('the new instance adopts the mapping: records written before and after the reload all land', () => {
    const x = boot();
    x.mapRing();
    for (const v of [0x11, 0x22, 0x33]) x.wr(REG.push, v);
    const report = reloadDevice(x.emu, 'ring0', x.next(ringCode({ code: 2 })));
    expect(report).toMatchObject({ outcome: 'reloaded', state: 'kept', warnings: [] });
    expect(x.rd(REG.code), 'the new code answers').toBe(2);
    x.finishRing([0x11, 0x22, 0x33], [0x44, 0x55]);
    x.dispose();
  });

  it('invalidation after the reload reaches the new instance, never the old one', () => {
    const x = boot();
    x.mapRing();
    reloadDevice(x.emu, 'ring0', x.next(ringCode({ code: 2 })));
    expect(x.ctx.invalidate(RING, 0x100).mappings).toBe(1);
    expect(x.rd(REG.inval)).toBe(1);
    expect(x.rd(REG.valid)).toBe(0);
    expect(x.dev.slot.pci!.intxLevel).toBe(1);
    expect(x.dev.slot.scope.guard.quarantined, 'no revoked notifier ran').toBe(false);
    x.dispose();
  });

  it("the old instance's handle on the mapping is revoked; the mapping stays the new one's", () => {
    const x = boot();
    x.mapRing();
    x.wr(REG.push, 0x11);
    const oldOps = x.dev.slot.regions.get('regs')!.ops;
    reloadDevice(x.emu, 'ring0', x.next(ringCode({ code: 2 })));
    // The old code's "release" through its leaked MMIO handler.
    expect(() => oldOps.write(REG.cmd, 4, 2, {} as never)).toThrow(
      expect.objectContaining({ code: 'E_REVOKED' }),
    );
    x.finishRing([0x11], [0x22]);
    x.dispose();
  });

  it('code that does not adopt: the mapping is released with a warning, what was written kept', () => {
    const x = boot();
    x.mapRing();
    for (const v of [0x11, 0x22]) x.wr(REG.push, v);
    const report = reloadDevice(x.emu, 'ring0', x.next(ringCode({ code: 2, adopt: false })));
    expect(report.outcome).toBe('reloaded');
    expect(report.warnings).toEqual([
      '1 DMA mapping of the previous instance was not adopted (dma.adoptMappings): released',
    ]);
    expect(x.ctx.mappings.size).toBe(0);
    expect(x.rd(REG.valid)).toBe(0);
    expect(x.ring(3)).toEqual([0x11, 0x22, 0]);
    x.dispose();
  });

  it('a create that throws after adopting rolls back: the old code adopts the mapping again', () => {
    const x = boot();
    x.mapRing();
    x.wr(REG.push, 0x11);
    const bad = ringCode({
      code: 2,
      // It maps something of its own too, which must not outlive the failed instance.
      afterAdopt: "ctx.dma.map(iova(0x50000), 0x10, 'read'); throw new Error('boom');",
    });
    const report = reloadDevice(x.emu, 'ring0', x.next(bad));
    expect(report.outcome).toBe('rolled-back');
    expect(x.rd(REG.code)).toBe(1);
    x.finishRing([0x11], [0x22]);
    x.dispose();
  });

  it('a bounce-buffered mapping (an MMIO target) carries what the old instance wrote', () => {
    const x = boot();
    const seen = new Uint8Array(0x100);
    const target = x.emu.machine.memorySystem.createMmio(
      'target',
      0x100,
      {
        read: () => 0,
        write: (off, _size, v) => {
          seen[off] = Number(v);
          return undefined;
        },
      },
      { valid: { min: 1, max: 1 }, impl: { min: 1, max: 1 } },
    );
    x.emu.machine.memorySystem.transaction(() =>
      x.emu.machine.systemMemory.addSubregion(target, MMIO_TARGET, { priority: 1 }),
    );
    x.mapRing(MMIO_TARGET, 0x10);
    x.wr(REG.push, 0x04030201);
    expect(seen[0], 'a bounce buffer reaches the target at release').toBe(0);
    reloadDevice(x.emu, 'ring0', x.next(ringCode({ code: 2 })));
    x.wr(REG.push, 0x08070605);
    x.wr(REG.cmd, 2);
    expect([...seen.subarray(0, 9)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 0]);
    x.dispose();
  });
});
