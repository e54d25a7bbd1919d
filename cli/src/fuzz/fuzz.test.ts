import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { buildMachineSpec, PluginHost } from '@emuhost/host';
import { afterAll, describe, expect, it } from 'vitest';
import { runQtest } from '../qtest/launch.js';
import {
  ALL_COMBOS,
  BUF,
  CANARY,
  type Combo,
  comboName,
  IOVA_WINDOW,
  machineSpec,
} from './combos.js';
import { fuzz } from './fuzz.js';
import { hex, setupLines } from './ops.js';
import { Run, replay } from './runner.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('emuhost fuzz', () => {
  it('the setup lines make edu DMA work through every edu combination', async () => {
    for (const c of ALL_COMBOS.filter((c) => c.device === 'edu')) {
      const run = await Run.open(c);
      const t = run.target();
      expect(run.execAll(setupLines(t))).toBeUndefined();
      const a = c.iommu === 'none' || c.iommu === 'passthrough' ? BUF : IOVA_WINDOW;
      const q = (l: string) => run.session.handle(l);
      q('writeq 0xe0000080 0x40000');
      q(`writeq 0xe0000088 ${hex(a + 0x10)}`);
      q('writeq 0xe0000090 0x10');
      q('writeq 0xe0000098 0x3');
      q('clock_step');
      expect(q('readl 0xe00000a0'), comboName(c)).toBe('OK 0x0000000000000000');
    }
  });

  it('pc-testdev answers on every machine and IOMMU, and its register check catches a wrong value', async () => {
    const testdev = ALL_COMBOS.filter((c) => c.device === 'pc-testdev');
    expect(testdev.map(comboName)).toEqual([
      'pc+pc-testdev+none',
      'pc+pc-testdev+tce',
      'pc+pc-testdev+passthrough',
      'q35+pc-testdev+none',
      'q35+pc-testdev+vtd',
      'q35+pc-testdev+tce',
      'q35+pc-testdev+passthrough',
    ]);
    for (const c of testdev) {
      const run = await Run.open(c);
      const t = run.target();
      expect(t.devfn).toBeUndefined();
      expect(run.execAll(setupLines(t))).toBeUndefined();
      const q = (l: string) => run.session.handle(l);
      expect(run.exec('outl 0xe0 0x87654321', 0)).toBeUndefined();
      expect(run.exec('inl 0xe0', 1)).toBeUndefined();
      expect(q('inb 0xeb'), comboName(c)).toBe('OK 0x0087');
      q('writel 0xff00fffc 0x11223344');
      expect(q('readl 0xff00fffc')).toBe('OK 0x0000000011223344');
      // The register changed behind the check's back (not through a checked line): caught.
      expect(run.exec('outl 0xe0 0x12345678', 2)).toBeUndefined();
      q('outb 0xe9 0x0');
      expect(run.exec('inl 0xe0', 3)?.kind).toBe('pc-testdev');
      run.close();
    }
  });

  it('a bounded run with fixed seeds over every combination is clean', async () => {
    const seqLen = 100;
    const ops = seqLen * ALL_COMBOS.length;
    for (const seed of [1, 2, 3]) {
      const r = await fuzz({ seed, ops, seqLen });
      expect(r.failure, JSON.stringify(r.failure?.failure)).toBeUndefined();
      expect(r.ops).toBe(ops);
      // One sequence on each combination.
      expect(r.sequences).toBe(ALL_COMBOS.length);
      expect(r.dmaWrites).toBeGreaterThan(0);
    }
  });

  it('is reproducible by seed', async () => {
    const a = await fuzz({ seed: 42, ops: 600, seqLen: 100 });
    const b = await fuzz({ seed: 42, ops: 600, seqLen: 100 });
    expect({ ...a, seconds: 0 }).toEqual({ ...b, seconds: 0 });
  });

  it('catches a device writing where no translation permits, and minimizes it to a replayable script', async () => {
    // A bug injected through a debug hook: after each DMA read edu makes, a stray store into
    // the canary, as a device that computed its write address wrongly would make.
    const host = new PluginHost();
    const build = async (c: Combo) => {
      const emu = await buildMachineSpec(machineSpec(c), host, { log: () => {} });
      emu.machine.hooks.dma.transfer.tap('bug', (e) => {
        if (e.device === 'edu0' && e.access !== 'map' && e.result === 'ok' && e.len >= 4)
          emu.machine.memory.write((CANARY + 0x10) as never, new Uint8Array([1, 2, 3, 4]));
      });
      return emu;
    };
    const combo = ALL_COMBOS.find((c) => comboName(c) === 'q35+edu+vtd')!;
    const out = mkdtempSync(join(tmpdir(), 'emuhost-fuzz-'));
    dirs.push(out);
    const r = await fuzz({ seed: 7, ops: 2000, combos: [combo], build, outDir: out });
    expect(r.failure).toBeDefined();
    const f = r.failure!;
    expect(f.failure.kind).toBe('canary');
    expect(f.lines.length).toBeGreaterThan(f.minimized.length);
    expect(f.minimized.length).toBeLessThanOrEqual(12);
    expect(f.minimized.some((l) => l.startsWith('clock_step'))).toBe(true);
    // The script as written (header comments included) reproduces it in a fresh session.
    const text = readFileSync(f.script!, 'utf8');
    expect(text).toMatch(/^# emuhost fuzz: q35\+edu\+vtd/);
    expect(text).toMatch(/# replay: npx emuhost qtest --machine .*\.machine\.json -qtest stdio < /);
    const lines = text.split('\n').filter((l) => l !== '');
    const run = await Run.open(combo, { build });
    expect(run.session.handle(lines[0]!)).toBe("FAIL Unknown command '#'");
    const again = run.execAll(lines);
    expect(again?.kind).toBe(f.failure.kind);
    // ...and without the bug it is clean.
    expect(await replay(combo, lines)).toBeUndefined();
  });

  it('a written script replays through emuhost qtest --machine FILE -qtest stdio', async () => {
    const out = mkdtempSync(join(tmpdir(), 'emuhost-fuzz-'));
    dirs.push(out);
    const combo = ALL_COMBOS.find((c) => comboName(c) === 'pc+edu+tce')!;
    // A "failure" on a clean machine: a bound of -1 ms fails the first line.
    const r = await fuzz({
      seed: 3,
      ops: 50,
      combos: [combo],
      boundMs: -1,
      outDir: out,
      minimize: false,
    });
    const script = r.failure!.script!;
    const machine = script.replace(/\.qtest$/, '.machine.json');
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let answers = '';
    stdout.on('data', (d) => {
      answers += String(d);
    });
    const done = runQtest(['--machine', machine, '-qtest', 'stdio'], { stdin, stdout, stderr });
    stdin.end(readFileSync(script, 'utf8'));
    expect(await done).toBe(0);
    const got = answers.trim().split('\n');
    expect(got.length).toBe(readFileSync(script, 'utf8').trim().split('\n').length);
    expect(
      got.filter((l) => l.startsWith('FAIL')).every((l) => l === "FAIL Unknown command '#'"),
    ).toBe(true);
  });

  it('reports a line that never returns as a hang, through the watchdog, with a minimized script', async () => {
    // A hang injected through the runner's debug hook: `clock_step` busy-loops for ever in
    // the worker, as a plugin's timer callback stuck in a loop would.
    const out = mkdtempSync(join(tmpdir(), 'emuhost-fuzz-'));
    dirs.push(out);
    const combo = ALL_COMBOS.find((c) => comboName(c) === 'pc+edu+none')!;
    const r = await fuzz({
      seed: 5,
      ops: 400,
      combos: [combo],
      watchdog: true,
      // Long enough that no ordinary line on a slow CI machine is taken for the hang.
      boundMs: 1000,
      hangOn: 'clock_step',
      outDir: out,
      minimizeSeconds: 5,
    });
    const f = r.failure!;
    expect(f.failure.kind).toBe('hang');
    expect(f.failure.line).toMatch(/^clock_step/);
    expect(f.lines.at(-1)).toBe(f.failure.line);
    expect(f.minimized.at(-1)).toMatch(/^clock_step/);
    expect(f.minimized.length).toBeLessThanOrEqual(f.lines.length);
    expect(readFileSync(f.script!, 'utf8')).toMatch(/# hang at the last line/);
  });

  it('runs clean through the watchdog worker, with the same counts as in-process', async () => {
    const opts = { seed: 9, ops: 400, seqLen: 100 };
    const a = await fuzz(opts);
    const b = await fuzz({ ...opts, watchdog: true });
    expect(b.failure).toBeUndefined();
    expect({ ...b, seconds: 0 }).toEqual({ ...a, seconds: 0 });
  });
});
