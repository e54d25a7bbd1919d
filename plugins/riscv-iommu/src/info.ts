/**
 * The model's lines for `info iommu`: the mode and directory, the interrupt setup, both
 * queues with their indices, every cached device context, and the last faults reported.
 */
import {
  DDTP_MODE_MASK,
  FCTL_WSI,
  ppnAddress,
  QCSR_ON,
  type QueueState,
  queueEntries,
} from './registers.js';
import type { RiscvIommu } from './riscv-iommu.js';

const MODES = ['Off', 'Bare', '1LVL', '2LVL', '3LVL'];
const hex = (n: number | bigint) => `0x${n.toString(16)}`;

function queue(name: string, q: QueueState): string {
  if ((q.csr & QCSR_ON) === 0) return `${name}: off (csr ${hex(q.csr)})`;
  return `${name}: ${queueEntries(q.base)} entries at ${hex(ppnAddress(q.base))}, head ${q.head}, tail ${q.tail}, csr ${hex(q.csr)}`;
}

export function infoLines(m: RiscvIommu): string[] {
  const r = m.r;
  const mode = Number(r.ddtp & DDTP_MODE_MASK);
  const out = [
    `ddtp: ${MODES[mode] ?? mode}${mode > 1 ? `, directory at ${hex(ppnAddress(r.ddtp))}` : ''}`,
    `interrupts: ${(r.fctl & FCTL_WSI) !== 0 ? 'wired' : 'MSI'}, icvec ${hex(r.icvec)}, ipsr ${hex(r.ipsr)}, wires ${m.wireLevels.join('')}`,
    queue('command queue', r.cq),
    queue('fault queue', r.fq),
  ];
  for (const [did, dc] of [...m.contexts].sort((a, b) => a[0] - b[0])) {
    const first =
      dc.fscMode === 0
        ? 'first stage Bare'
        : `${dc.fscMode === 8 ? 'Sv39' : 'Sv48'} at ${hex(dc.root)}, PSCID ${dc.pscid}`;
    const second =
      dc.gMode === 0
        ? dc.fscMode === 0
          ? ' (identity)'
          : ''
        : `; second stage ${dc.gMode === 8 ? 'Sv39x4' : 'Sv48x4'} at ${hex(dc.gRoot)}, GSCID ${dc.gscid}`;
    out.push(`device context ${hex(did)}: ${first}${second}${dc.dtf ? ', DTF' : ''}`);
  }
  for (const f of m.recent) out.push(`fault: ${f}`);
  return out;
}
