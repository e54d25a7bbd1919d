/**
 * Step 4: edu DMA through the IOMMU. edu is given IOVAs, never physical addresses; VT-d
 * translates each through the guest's tables. A pattern goes from RAM into edu's buffer, then
 * back out to an IOVA range that straddles two IOVA pages — contiguous for edu, two unrelated
 * physical pages in RAM — and the bytes are found there, while the IOVAs' identity addresses
 * (which are RAM too) stay as they were.
 */
import type { DmaTraceEvent } from '@emuhost/core';
import type { DemoContext, DemoStep } from './context.js';
import { DMA_STATUS, type DmaOutcome, EDU_BUFFER } from './edu.js';
import { PAGE } from './guest-memory.js';
import { formatNs, hex, type StepOutput } from './report.js';

const LENGTH = 256;
/** Where the copy back lands: 128 bytes before the end of the second IOVA page. */
const STRADDLE = PAGE - LENGTH / 2;

/** A pattern no stale or zeroed memory matches: text, then counting bytes. */
function pattern(): Uint8Array {
  const p = new Uint8Array(LENGTH);
  const text = new TextEncoder().encode('emuhost: edu DMA through VT-d ');
  p.set(text);
  for (let i = text.length; i < LENGTH; i++) p[i] = i & 0xff;
  return p;
}

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The kernel's trace of edu's DMA since `mark`: which IOVA went to which address. */
const pieces = (demo: DemoContext, mark: number): DmaTraceEvent[] =>
  demo.transfers.slice(mark).filter((e) => e.device === demo.target.edu);

const showPieces = (ps: readonly DmaTraceEvent[]) =>
  ps.map((p) => `${hex(p.iova)} → ${hex(p.translated)} (${p.len} B)`).join(', ');

function expectDone(out: StepOutput, what: string, r: DmaOutcome): void {
  out.require(`${what}: RUN clears`, r.completed, 'the transfer completes', 'RUN still set');
  out.expect(
    `${what}: DMA status (BAR0 + 0xa0)`,
    r.status,
    0,
    (v) => `${v} (${DMA_STATUS[v] ?? '?'})`,
  );
}

export const dmaThroughIommu: DemoStep = {
  title: 'edu DMA through the IOMMU',
  run(demo: DemoContext, out) {
    const edu = demo.eduDriver;
    const [src, lower, upper] = demo.mappings;
    out.require('pages mapped for edu', upper !== undefined, 'three', String(demo.mappings.length));
    const data = pattern();

    // RAM → edu: the CPU writes the pattern at the physical page; edu reads it by IOVA.
    demo.drv.memwrite(src!.gpa, data);
    let mark = demo.transfers.length;
    const load = edu.dma('to-device', src!.iova, EDU_BUFFER, LENGTH);
    expectDone(out, 'RAM → edu', load);
    const read = pieces(demo, mark);
    out.expect('address edu read from (kernel DMA trace)', read[0]?.translated, src!.gpa, (v) =>
      hex(v ?? 0),
    );
    out.ok(
      `RAM → edu: ${LENGTH} B from IOVA ${hex(src!.iova)} into edu's buffer (${hex(EDU_BUFFER)}), status ${load.status} (ok) after ${formatNs(load.finished - load.started)}`,
    );
    out.note(`translated: ${showPieces(read)}`);

    // edu → RAM, straddling two IOVA pages that are not adjacent in RAM.
    const dst = lower!.iova + STRADDLE;
    const identityBefore = demo.drv.memread(dst, LENGTH);
    mark = demo.transfers.length;
    const store = edu.dma('to-ram', dst, EDU_BUFFER, LENGTH);
    expectDone(out, 'edu → RAM', store);
    const wrote = pieces(demo, mark);
    out.ok(
      `edu → RAM: ${LENGTH} B from the buffer to IOVA ${hex(dst)}..${hex(dst + LENGTH - 1)}, status ${store.status} (ok) after ${formatNs(store.finished - store.started)}`,
    );
    out.note(`translated: ${showPieces(wrote)}`);

    // Where the bytes are: the two physical pieces, read by the CPU.
    const first = demo.drv.memread(lower!.gpa + STRADDLE, LENGTH / 2);
    const second = demo.drv.memread(upper!.gpa, LENGTH / 2);
    const arrived = new Uint8Array(LENGTH);
    arrived.set(first);
    arrived.set(second, LENGTH / 2);
    out.require(
      `pattern at ${hex(lower!.gpa + STRADDLE)} + ${hex(upper!.gpa)}`,
      same(arrived, data),
      'the pattern edu read',
      `${[...arrived.subarray(0, 8)].map((b) => hex(b, 2)).join(' ')}…`,
    );
    const identityAfter = demo.drv.memread(dst, LENGTH);
    out.require(
      `identity address ${hex(dst)} untouched`,
      same(identityBefore, identityAfter),
      'unchanged',
      'written',
    );
    const text = new TextDecoder().decode(first.subarray(0, 29));
    out.ok(
      `"${text}"… found at ${hex(lower!.gpa + STRADDLE)} (128 B) and ${hex(upper!.gpa)} (128 B)`,
    );
    out.ok(
      `nothing written at the IOVAs' identity addresses ${hex(dst)}..${hex(dst + LENGTH - 1)}`,
    );
  },
};
