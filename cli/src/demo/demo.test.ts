import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MachineSpec, readMachineFile } from '@emuhost/host';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand, runMachine } from '../commands/run.js';
import { DEMO_MACHINE_FILE, demoMachineSpec } from './machine.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'emuhost-run-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** An in-process stdout/stderr pair that keeps what was written. */
function capture() {
  const io = { out: '', err: '' };
  return {
    io,
    stdio: {
      stdout: { write: (t: string) => (io.out += t) },
      stderr: { write: (t: string) => (io.err += t) },
    },
  };
}

function machineFile(name: string, content: object): string {
  const f = join(work, name);
  writeFileSync(f, JSON.stringify(content));
  return f;
}

describe('the demo', () => {
  it('runs on the demo machine: DMA translated by VT-d, the fault caught and reported', async () => {
    const { io, stdio } = capture();
    expect(await runMachine(demoMachineSpec(), 'demo', stdio)).toBe(0);
    expect(io.err).toBe('');
    const out = io.out;
    expect(out).toContain('✓ all 6 steps passed');
    expect(out).not.toContain('✗');
    expect(out).not.toContain('\x1b['); // no colour when not asked for
    // The copy back straddles two IOVA pages and lands on two unrelated physical pages.
    expect(out).toContain('translated: 0x1001f80 → 0x712f80 (128 B), 0x1002000 → 0x523000 (128 B)');
    expect(out).toContain('found at 0x712f80 (128 B) and 0x523000 (128 B)');
    // The fault as edu, VT-d and the kernel saw it.
    expect(out).toContain('DMA status 4 (IOMMU fault)');
    expect(out).toContain('reason 0x5 (write denied: page not present or read-only)');
    expect(out).toContain('kernel hook iommu.fault: vtd0 refused edu0');
    expect(out).toMatch(/write at 0x2000000: not-present/);
    // Every step has its heading, in order.
    const headings = [...out.matchAll(/^(\d)\. /gm)].map((m) => m[1]);
    expect(headings).toEqual(['1', '2', '3', '4', '5', '6']);
  });

  it('cli/machines/demo.json is the machine the demo builds in code', () => {
    const { base: _, ...fromFile } = readMachineFile(DEMO_MACHINE_FILE);
    const { base: __, ...inCode } = demoMachineSpec();
    expect(fromFile).toEqual(inCode);
  });

  it('prints what it expected and exits 1 when the hardware disagrees', async () => {
    // A DMA mask of 1 MiB clamps edu's IOVAs (16 MiB and up) to unmapped ones: step 4 fails.
    const spec: MachineSpec = {
      ...demoMachineSpec(),
      devices: [{ plugin: 'edu', id: 'edu0', options: { dma_mask: 0xfffff } }],
    };
    const { io, stdio } = capture();
    expect(await runMachine(spec, 'narrow-mask', stdio)).toBe(1);
    expect(io.out).toContain('✗ RAM → edu: DMA status (BAR0 + 0xa0)');
    expect(io.out).toMatch(/expected 0 \(ok\)\n\s+got\s+4 \(IOMMU fault\)/);
    expect(io.out).toContain('log [edu:edu0] warn: EDU: clamping DMA 0x1000000 to 0x0!');
    expect(io.out).toContain('✗ demo failed at step 4');
    expect(io.out).not.toContain('\n5. ');
  });
});

describe('emuhost run', { timeout: 60_000 }, () => {
  it('refuses a machine without an IOMMU, saying what to add', async () => {
    const f = machineFile('no-iommu.json', {
      machine: 'q35',
      devices: [{ plugin: 'edu' }],
    });
    const { io, stdio } = capture();
    expect(await runCommand(f, stdio)).toBe(1);
    expect(io.out).toBe('');
    expect(io.err).toMatch(
      /^emuhost: E_MACHINE_FILE: .*no-iommu\.json: the demo does DMA through an IOMMU, and this machine has none \(add "iommus": \[\{ "plugin": "vtd" \}\]/,
    );
  });

  it('refuses a machine without edu, and a machine file that does not validate', async () => {
    const { io, stdio } = capture();
    expect(await runCommand(machineFile('no-edu.json', { machine: 'q35' }), stdio)).toBe(1);
    expect(io.err).toContain('the demo drives an edu device, and this machine has none');
    const bad = capture();
    expect(await runCommand(machineFile('bad.json', { machin: 'q35' }), bad.stdio)).toBe(1);
    expect(bad.io.err).toContain('machin: unknown field');
  });

  it('runs from the command line: the demo by default, exit 1 and a message without an IOMMU', () => {
    const bin = join(repo, 'cli', 'bin', 'emuhost.mjs');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [bin, 'run', ...args], { cwd: repo, encoding: 'utf8' });
    const ok = run();
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('— cli/machines/demo.json');
    expect(ok.stdout).toContain('✓ all 6 steps passed');
    const refused = run(
      machineFile('cli-no-iommu.json', { machine: 'q35', devices: [{ plugin: 'edu' }] }),
    );
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('this machine has none (add "iommus"');
  });
});
