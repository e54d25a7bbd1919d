/**
 * The official RISC-V ISA tests (riscv-tests, prebuilt in ../shared/riscv-tests): every
 * required rv64 test (ui, um, ua, uf, ud, uc in the p and v environments; si, mi in p) must
 * pass, once with every block compiled at its first execution and once interpreted only, so
 * that both tiers run every instruction. The optional extensions' tests (Zfh, Zba, Zbb, Zbs)
 * are listed as skipped with the reason: this CPU does not implement them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runIsaTest } from './test-support/isa-test.js';

/** `shared/riscv-tests` beside the checkout, or beside a folder above it (a worktree's). */
function findTests(): string {
  let dir = join(import.meta.dirname, '../../..');
  for (;;) {
    const candidate = join(dir, '..', 'shared/riscv-tests');
    if (existsSync(join(candidate, 'tests.txt'))) return candidate;
    if (dirname(dir) === dir) return join(import.meta.dirname, '../../../../shared/riscv-tests');
    dir = dirname(dir);
  }
}

const DIR = findTests();
const present = existsSync(join(DIR, 'tests.txt'));

interface Row {
  readonly name: string;
  readonly optional: boolean;
}

const rows: Row[] = present
  ? readFileSync(join(DIR, 'tests.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.trim().split(/\s+/))
      .map((f) => ({ name: f[0]!, optional: f[7] === 'optional' }))
  : [];

describe.skipIf(!present)('riscv-tests (../shared/riscv-tests)', () => {
  for (const row of rows) {
    if (row.optional) {
      it.skip(`${row.name}: optional extension (Zfh/Zba/Zbb/Zbs) not implemented`, () => {});
      continue;
    }
    it(row.name, { timeout: 120_000 }, () => {
      for (const mode of [
        { jit: true, jitThreshold: 1 },
        { jit: false, jitThreshold: 1 },
      ]) {
        const r = runIsaTest(join(DIR, 'isa', row.name), mode);
        expect({ mode, ...r }).toMatchObject({ mode, outcome: 'pass' });
        // The compiled mode ran WebAssembly (tier 2); the interpreted one did not.
        if (mode.jit) expect(r.regions).toBeGreaterThan(0);
        else expect(r.regions).toBe(0);
      }
    });
  }
});
