import { expect, it } from 'vitest';
import { kernelTour } from './kernel-tour.js';

it('the kernel tour shows each access result', () => {
  const lines: string[] = [];
  kernelTour((l) => lines.push(l));
  const out = lines.join('\n');
  expect(out).toMatch(/load32 {2}0x1000 +-> 0xdeadbeef/);
  expect(out).toMatch(/store32 0xffff0000 \(ROM: ignored\) +-> ok/);
  expect(out).toMatch(/load32 {2}0xf0000 \(BIOS alias below 1 MiB\) +-> 0x3020100/);
  expect(out).toMatch(/load8 {3}0xe0000004 \(valid.min = 4\) +-> access-error/);
  expect(out).toMatch(/re-entrancy blocked on demo-dev/);
  expect(out).toMatch(/load32 {2}0xd0000000 \(unassigned\) +-> decode-error/);
});
