import { describe, expect, it } from 'vitest';
import { SifiveTest } from './sifive-test.js';
import { read, write } from './test-support/mmio-bus.js';

function rig() {
  const calls: [string, number | undefined][] = [];
  const dev = new SifiveTest({ shutdown: (kind, code) => calls.push([kind, code]) });
  return { dev, calls };
}

describe('sifive,test1 (the test finisher)', () => {
  it('turns command writes at offset 0 into shutdown requests', () => {
    for (const [value, expected] of [
      [0x5555, ['poweroff', 0]],
      [0x0001_5555, ['poweroff', 0]], // PASS ignores the code bits
      [0x3333, ['poweroff', 0]],
      [0x0001_3333, ['poweroff', 1]],
      [0xffff_3333, ['poweroff', 0xffff]],
      [0x7777, ['reboot', undefined]],
    ] as const) {
      const { dev, calls } = rig();
      expect(write(dev, 0, value, 4)).toBe('ok');
      expect(calls, `0x${value.toString(16)}`).toEqual([expected]);
    }
  });

  it('takes a 2-byte command too, as QEMU allows', () => {
    const { dev, calls } = rig();
    expect(write(dev, 0, 0x5555, 2)).toBe('ok');
    expect(calls).toEqual([['poweroff', 0]]);
  });

  it('ignores other values and other offsets, and reads 0 everywhere', () => {
    const { dev, calls } = rig();
    for (const [off, v] of [
      [0, 0],
      [0, 0x5554],
      [0, 0x1234_0000],
      [4, 0x5555],
      [0xffc, 0x7777],
      [2, 0x5555],
    ] as const) {
      expect(write(dev, off, v, off === 2 ? 2 : 4)).toBe('ok');
    }
    expect(calls).toEqual([]);
    expect(read(dev, 0, 4)).toBe(0);
    expect(read(dev, 0xffc, 4)).toBe(0);
  });

  it('refuses 1- and 8-byte accesses, as QEMU’s access rules', () => {
    const { dev, calls } = rig();
    expect(write(dev, 0, 0x55, 1)).toBe('access-error');
    expect(write(dev, 0, 0x5555n, 8)).toBe('access-error');
    expect(read(dev, 0, 1)).toBe('access-error');
    expect(calls).toEqual([]);
  });

  it('has no state to lose', () => {
    const { dev, calls } = rig();
    dev.reset();
    dev.loadState(JSON.parse(JSON.stringify(dev.saveState())));
    write(dev, 0, 0x7777, 4);
    expect(calls).toEqual([['reboot', undefined]]);
    expect(() => dev.loadState(7)).toThrow(/E_BAD_ARGUMENT/);
  });
});
