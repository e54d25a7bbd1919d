import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFirmware } from './machine-build.js';
import { readMachineFile, validateMachineSpec } from './machine-file.js';

describe('machine files: firmware', () => {
  it('takes "bios" and "pflash" as paths relative to the file, and reads them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'emuhost-mf-'));
    writeFileSync(join(dir, 'bios.bin'), Uint8Array.of(1, 2, 3));
    writeFileSync(join(dir, 'code.fd'), Uint8Array.of(4, 5));
    const file = join(dir, 'machine.json');
    writeFileSync(file, JSON.stringify({ machine: 'pc', bios: 'bios.bin', pflash: ['code.fd'] }));
    const spec = readMachineFile(file);
    expect(spec).toMatchObject({ bios: 'bios.bin', pflash: ['code.fd'], base: dir });
    const fw = readFirmware(spec);
    expect([...fw.bios!]).toEqual([1, 2, 3]);
    expect(fw.pflash.map((b) => [...b])).toEqual([[4, 5]]);
  });

  it('names the field of each problem', () => {
    const problems = (raw: unknown) => {
      try {
        validateMachineSpec(raw, 'm.json');
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(problems({ machine: 'pc', bios: 7 })).toMatch(/bios: must be a non-empty string/);
    expect(problems({ machine: 'pc', bios: '' })).toMatch(/bios: must be a non-empty string/);
    expect(problems({ machine: 'pc', pflash: 'a.fd' })).toMatch(/pflash: must be an array/);
    expect(problems({ machine: 'pc', pflash: ['a.fd', 3] })).toMatch(
      /pflash\[1\]: must be a non-empty string/,
    );
    expect(problems({ machine: 'pc', firmware: 'x' })).toMatch(
      /firmware: unknown field.*bios, pflash/,
    );
    expect(validateMachineSpec({ machine: 'pc' }, 'm.json')).not.toHaveProperty('bios');
  });

  it('a file that cannot be read is an error naming it, as QEMU words it', () => {
    const spec = validateMachineSpec({ machine: 'pc', bios: 'nope.bin' }, '/tmp/m.json');
    expect(() => readFirmware(spec)).toThrow(/could not load PC BIOS 'nope.bin': ENOENT/);
    const flash = validateMachineSpec({ machine: 'pc', pflash: ['nope.fd'] }, '/tmp/m.json');
    expect(() => readFirmware(flash)).toThrow(/could not load pflash0 'nope.fd': ENOENT/);
  });
});
