/**
 * The qtest snapshot commands on pc + edu (no CPUs: RAM, a device with a pending DMA timer,
 * PCI config space, the clock): what `savevm` took comes back with `loadvm`, the DMA pending
 * at the snapshot completes after it; a truncated or corrupt file is refused and a device that
 * refuses its state mid-restore rolls the machine back, both leaving everything as it was.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { buildMachineSpec, decodeSnapshot, encodeSnapshot, PluginHost } from '@emuhost/host';
import { describe, expect, it } from 'vitest';
import { ALL_COMBOS, BUF, comboName, machineSpec } from '../fuzz/combos.js';
import { hex } from '../fuzz/ops.js';
import { emuhostExtensions } from './extensions.js';
import { QtestSession } from './session.js';

const BAR = 0xe0000000;

async function eduMachine(name = 'pc+edu+none') {
  const host = new PluginHost();
  const combo = ALL_COMBOS.find((c) => comboName(c) === name)!;
  const emu = await buildMachineSpec(machineSpec(combo), host, { log: () => {} });
  const dir = mkdtempSync(join(tmpdir(), 'emuhost-snap-qtest-'));
  const s = new QtestSession(emu, {
    emit: () => {},
    extensions: emuhostExtensions(emu, { snapshotDir: join(dir, 'tags') }),
  });
  const q = (l: string) => s.handle(l);
  const cfg = (devfn: number, off: number) => hex((0x80000000 | (devfn << 8) | off) >>> 0);
  let devfn = 0;
  for (; devfn < 256; devfn++) {
    q(`outl 0xcf8 ${cfg(devfn, 0)}`);
    if (Number(q('inl 0xcfc').slice(3)) === 0x11e81234) break;
  }
  for (const l of [
    `outl 0xcf8 ${cfg(devfn, 0x10)}`,
    `outl 0xcfc ${hex(BAR)}`,
    `outl 0xcf8 ${cfg(devfn, 0x04)}`,
    'outw 0xcfc 0x6',
  ])
    expect(q(l)).toBe('OK');
  const ok = (l: string) => {
    const r = q(l);
    expect(r, l).toMatch(/^OK/);
    return r;
  };
  const rl = (a: number) => Number(ok(`readl ${hex(a)}`).slice(3));
  return { emu, q, ok, rl, dir };
}

describe('qtest snapshots (emuhost.savevm/loadvm/delvm/snapshots/snapshot.save/snapshot.load)', () => {
  it('loadvm brings back RAM, device registers, config space and a pending DMA', async () => {
    const { q, ok, rl } = await eduMachine();
    ok(`writel ${hex(BAR + 0x04)} 0x12345678`);
    ok(`write ${hex(BUF)} 8 0x0102030405060708`);
    // RAM -> edu's buffer, started, not yet done: its timer is pending at the snapshot.
    ok(`writeq ${hex(BAR + 0x80)} ${hex(BUF)}`);
    ok(`writeq ${hex(BAR + 0x88)} 0x40000`);
    ok(`writeq ${hex(BAR + 0x90)} 0x8`);
    ok(`writeq ${hex(BAR + 0x98)} 0x1`);
    expect(ok('emuhost.savevm t1')).toBe('OK t1');
    const t = ok('clock_step 0');
    ok('clock_step');
    ok(`writel ${hex(BAR + 0x04)} 0x0`);
    ok(`write ${hex(BUF)} 8 0xffffffffffffffff`);
    ok('outl 0xcf8 0x80000804');
    ok('outw 0xcfc 0x0');
    expect(rl(BAR + 0x04)).not.toBe(0xedcba987); // BAR unmapped now
    expect(ok('emuhost.loadvm t1')).toMatch(/^OK \{"ramPages":\d+/);
    expect(ok('clock_step 0')).toBe(t);
    expect(rl(BAR + 0x04)).toBe(0xedcba987);
    expect(ok(`read ${hex(BUF)} 8`)).toBe('OK 0x0102030405060708');
    expect(rl(BAR + 0x98) & 1).toBe(1); // still running
    ok('clock_step');
    expect(rl(BAR + 0x98) & 1).toBe(0); // done after the restore
    expect(JSON.parse(ok('emuhost.snapshots').slice(3)).map((x: { tag: string }) => x.tag)).toEqual(
      ['t1'],
    );
    expect(q('emuhost.delvm t1')).toBe('OK');
    expect(q('emuhost.loadvm t1')).toMatch(/^FAIL E_SNAPSHOT: snapshot io: no snapshot 't1'/);
  });

  it('refuses truncated and corrupt files, and rolls back a device that refuses its state', async () => {
    const { q, ok, rl, dir } = await eduMachine();
    ok(`writel ${hex(BAR + 0x04)} 0x0000abcd`);
    const file = join(dir, 'a.emusnap');
    expect(ok(`emuhost.snapshot.save ${file}`)).toMatch(/^OK \{"bytes":\d+\}$/);
    const bytes = new Uint8Array(readFileSync(file));
    ok(`writel ${hex(BAR + 0x04)} 0x00001111`);
    ok(`write ${hex(BUF)} 4 0xcafef00d`);
    const now = ok('clock_step 1000');
    const unchanged = () => {
      expect(rl(BAR + 0x04)).toBe(~0x1111 >>> 0);
      expect(ok(`read ${hex(BUF)} 4`)).toBe('OK 0xcafef00d');
      expect(ok('clock_step 0')).toBe(now);
    };

    writeFileSync(join(dir, 'short'), bytes.subarray(0, bytes.length - 7));
    expect(q(`emuhost.snapshot.load ${join(dir, 'short')}`)).toMatch(
      /^FAIL E_SNAPSHOT: snapshot truncated/,
    );
    const bad = bytes.slice();
    bad[bad.length - 3]! ^= 0x10;
    writeFileSync(join(dir, 'bad'), bad);
    expect(q(`emuhost.snapshot.load ${join(dir, 'bad')}`)).toMatch(
      /^FAIL E_SNAPSHOT: snapshot corrupt/,
    );
    unchanged();

    // A well-formed file whose edu state edu refuses when it is created from it.
    const sections = decodeSnapshot(bytes).map((s) =>
      s.kind === 'DEV ' && s.name === 'edu0'
        ? {
            ...s,
            payload: new Uint8Array(serialize({ version: 1, data: { bogus: true }, lines: {} })),
          }
        : s,
    );
    writeFileSync(join(dir, 'refused'), encodeSnapshot(sections));
    expect(q(`emuhost.snapshot.load ${join(dir, 'refused')}`)).toMatch(
      /^FAIL E_SNAPSHOT: snapshot refused: edu0 refused its state: .*rolled back/,
    );
    unchanged();

    expect(ok(`emuhost.snapshot.load ${file}`)).toMatch(/^OK/);
    expect(rl(BAR + 0x04)).toBe(~0xabcd >>> 0);
  });

  it('refuses a state version the plugin has no migration for, and another machine, naming them', async () => {
    const { q, ok, dir } = await eduMachine();
    const file = join(dir, 'a.emusnap');
    ok(`emuhost.snapshot.save ${file}`);
    const bytes = new Uint8Array(readFileSync(file));
    const sections = decodeSnapshot(bytes).map((s) =>
      s.kind === 'DEV ' && s.name === 'edu0'
        ? { ...s, payload: new Uint8Array(serialize({ version: 7, data: {}, lines: {} })) }
        : s,
    );
    writeFileSync(join(dir, 'v7'), encodeSnapshot(sections));
    expect(q(`emuhost.snapshot.load ${join(dir, 'v7')}`)).toMatch(
      /^FAIL E_SNAPSHOT: snapshot version: 'edu' \(edu0\) saved state version 7 \(plugin [^)]+\); plugin \S+ reads version 1 and has no state migration/,
    );
    const other = await eduMachine('pc+pc-testdev+none');
    expect(other.q(`emuhost.snapshot.load ${file}`)).toMatch(
      /^FAIL E_SNAPSHOT: snapshot mismatch: devices \[edu0\] in the snapshot/,
    );
  });

  it("loads an older IOMMU state through the plugin's migration, and says so", async () => {
    const { q, ok, dir, emu } = await eduMachine('q35+edu+vtd');
    const file = join(dir, 'a.emusnap');
    ok(`emuhost.snapshot.save ${file}`);
    const [id] = [...emu.iommus.keys()];
    const sections = decodeSnapshot(new Uint8Array(readFileSync(file))).map((s) => {
      if (s.kind !== 'IOMU') return s;
      const st = deserialize(s.payload) as { version: number };
      return { ...s, payload: new Uint8Array(serialize({ ...st, version: 1 })) };
    });
    writeFileSync(join(dir, 'v1'), encodeSnapshot(sections));
    const r = JSON.parse(ok(`emuhost.snapshot.load ${join(dir, 'v1')}`).slice(3)) as {
      notes: string[];
    };
    expect(r.notes).toEqual([`'vtd' (${id}): state version 1 migrated to 2`]);
    expect(q('emuhost.devices')).toMatch(/^OK/);
  });
});
