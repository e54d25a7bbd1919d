import { describe, expect, it } from 'vitest';
import { DeviceGuard } from './guard.js';
import { createKernelHooks, type DeviceFaultEvent } from './hooks.js';
import { createMemorySystem } from './memory/memory-system.js';
import { recordingDevice } from './memory/test-util.js';

function device(opts: { reentrant?: boolean } = {}) {
  const hooks = createKernelHooks();
  const ms = createMemorySystem({ hooks });
  const root = ms.createContainer('root', 0x10000);
  const as = ms.createAddressSpace<number>('memory', root);
  const guard = new DeviceGuard('dev0', hooks);
  guard.plugin = 'test-plugin';
  const faults: DeviceFaultEvent[] = [];
  hooks.guard.deviceFault.tap('test', (e) => void faults.push(e));
  const dev = recordingDevice(0x100);
  dev.regs[0] = 0x2a;
  root.addSubregion(
    ms.createMmio('regs', 0x100, dev.ops, {}, { guard, reentrant: opts.reentrant ?? false }),
    0,
  );
  const ram = ms.createRam('ram', 0x1000);
  root.addSubregion(ram, 0x1000);
  return { as, guard, faults, calls: dev.calls, ram };
}

describe('fault injection (DeviceGuard.injectFault)', () => {
  it('the next guarded MMIO callback throws inside the guard: quarantine, fault event, all ones', () => {
    const d = device();
    expect(d.as.load(0, 4)).toBe(0x2a);
    d.guard.injectFault();
    expect(d.as.load(0, 4)).toBe('device-fault');
    // The plugin's callback never ran: the fault took its place.
    expect(d.calls).toHaveLength(1);
    expect(d.guard.quarantined).toBe(true);
    expect(d.guard.engaged).toBe(false);
    expect(d.faults).toHaveLength(1);
    expect(d.faults[0]).toMatchObject({
      device: 'dev0',
      plugin: 'test-plugin',
      site: 'mmio-read',
      at: { region: 'regs', offset: 0 },
    });
    expect((d.faults[0]!.error as Error).message).toBe('injected fault (mmio-read)');
    expect((d.faults[0]!.error as { injected?: boolean }).injected).toBe(true);
    expect(d.guard.lastFault?.stack).toMatch(/injected fault/);
    // Quarantined: it answers as absent until restarted; then the fault is gone (one-shot).
    expect(d.as.store(0, 4, 1)).toBe('device-fault');
    const b = new Uint8Array(4);
    expect(d.as.read(0, b)).toBe('device-fault');
    expect([...b]).toEqual([0xff, 0xff, 0xff, 0xff]);
    d.guard.restart();
    expect(d.as.load(0, 4)).toBe(0x2a);
    expect(d.faults).toHaveLength(1);
  });

  it('a fault armed for a site waits for that site, and one-shot means once', () => {
    const d = device();
    d.guard.injectFault('timer');
    expect(d.as.store(4, 4, 7)).toBe('ok');
    expect(d.as.load(4, 4)).toBe(7);
    expect(d.guard.run('deferred', () => {})).toBe(true);
    expect(d.guard.quarantined).toBe(false);
    let ran = false;
    expect(
      d.guard.run('timer', () => {
        ran = true;
      }),
    ).toBe(false);
    expect(ran).toBe(false);
    expect(d.faults.map((f) => f.site)).toEqual(['timer']);
    expect(d.guard.quarantined).toBe(true);
    d.guard.restart();
    expect(d.guard.run('timer', () => {})).toBe(true);
    expect(d.faults).toHaveLength(1);
  });

  it('writes: the write callback does not run', () => {
    const d = device();
    d.guard.injectFault('mmio-write');
    expect(d.as.load(8, 4)).toBe(0);
    expect(d.as.store(8, 4, 0x55)).toBe('device-fault');
    expect(d.calls.filter((c) => c.op === 'w')).toEqual([]);
    expect(d.faults[0]).toMatchObject({ site: 'mmio-write', at: { region: 'regs', offset: 8 } });
  });

  it('disarm cancels an armed fault; restart does too', () => {
    const d = device();
    d.guard.injectFault();
    d.guard.disarm();
    expect(d.as.load(0, 4)).toBe(0x2a);
    d.guard.injectFault('timer');
    d.guard.restart();
    expect(d.guard.run('timer', () => {})).toBe(true);
    expect(d.faults).toHaveLength(0);
  });

  it('rolls back what the device wrote to guest RAM in the callback, as a plugin exception does', () => {
    const d = device({ reentrant: true });
    const bytes = d.ram.bytes!;
    bytes[0] = 0x11;
    let inner: unknown;
    const ok = d.guard.run('timer', () => {
      // A DMA write in the callback (journaled), then an access that faults.
      d.guard.journal.save(bytes, 0, 1);
      bytes[0] = 0x99;
      d.guard.injectFault('mmio-read');
      inner = d.as.load(0, 4);
    });
    expect(ok).toBe(true);
    expect(inner).toBe('device-fault');
    expect(bytes[0]).toBe(0x11);
    expect(d.guard.quarantined).toBe(true);
    expect(d.guard.journal).toHaveLength(0);
  });
});
