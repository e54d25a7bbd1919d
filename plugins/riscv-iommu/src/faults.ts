/**
 * The fault queue (specification 3.2 and 4.2): fault records of 32 bytes written at the
 * tail of a ring in guest memory, the spec's cause codes, and what the kernel is told. A
 * record goes in only while the queue is on with no memory fault or overflow pending; a full
 * queue sets `fqof` and drops the record; a record that cannot be written sets `fqmf`. Either
 * way the fault-queue interrupt cause is raised.
 */
import type { IommuFaultReason } from '@emuhost/sdk';
import { raise } from './interrupts.js';
import { CAUSE, ppnAddress, QCSR_MF, QCSR_ON, QCSR_TO_OF, queueEntries } from './registers.js';
import { type RiscvIommu, writeBytes } from './riscv-iommu.js';

/** Fault causes (specification table 11). */
export const FAULT = {
  READ_ACCESS: 5,
  WRITE_ACCESS: 7,
  READ_PAGE: 13,
  WRITE_PAGE: 15,
  READ_GUEST_PAGE: 21,
  WRITE_GUEST_PAGE: 23,
  ALL_DISALLOWED: 256,
  DDT_LOAD: 257,
  DDT_INVALID: 258,
  DDT_MISCONFIGURED: 259,
  TTYP_DISALLOWED: 260,
} as const;

const NAMES: Readonly<Record<number, string>> = {
  5: 'read access fault',
  7: 'write access fault',
  13: 'read page fault',
  15: 'write page fault',
  21: 'read guest-page fault',
  23: 'write guest-page fault',
  256: 'all inbound transactions disallowed',
  257: 'DDT entry load access fault',
  258: 'DDT entry not valid',
  259: 'DDT entry misconfigured',
  260: 'transaction type disallowed',
};

export const causeName = (cause: number): string => NAMES[cause] ?? `cause ${cause}`;

/** Transaction types (table 12): untranslated read and write, the only ones a device issues here. */
export const TTYP_READ = 2;
export const TTYP_WRITE = 3;

/** The kernel's name for why a translation was refused. */
export function reasonOf(cause: number): IommuFaultReason {
  switch (cause) {
    case FAULT.READ_PAGE:
    case FAULT.WRITE_PAGE:
    case FAULT.READ_GUEST_PAGE:
    case FAULT.WRITE_GUEST_PAGE:
      return 'not-present';
    case FAULT.READ_ACCESS:
    case FAULT.WRITE_ACCESS:
    case FAULT.DDT_LOAD:
    case FAULT.DDT_MISCONFIGURED:
      return 'bad-table';
    default:
      return 'no-context';
  }
}

export interface FaultRecord {
  readonly cause: number;
  readonly ttyp: number;
  readonly did: number;
  readonly iotval: number;
  readonly iotval2?: number;
}

/** What happened to a fault: queued (at which index), or why not. */
export type FaultOutcome = `queued at ${number}` | 'queue off' | 'queue overflow' | 'queue error';

const record = new Uint8Array(32);
const rv = new DataView(record.buffer);

/** Writes `f` into the fault queue and raises the fault-queue interrupt cause. */
export function reportFault(m: RiscvIommu, f: FaultRecord): FaultOutcome {
  const q = m.r.fq;
  if ((q.csr & QCSR_ON) === 0) return 'queue off';
  if ((q.csr & (QCSR_MF | QCSR_TO_OF)) !== 0) return 'queue error';
  const n = queueEntries(q.base);
  if ((q.tail + 1) % n === q.head % n) {
    q.csr |= QCSR_TO_OF;
    raise(m, CAUSE.FQ);
    return 'queue overflow';
  }
  // hdr: CAUSE[11:0], PID[31:12] = 0, PV = 0, PRIV = 0, TTYP[39:34], DID[63:40].
  rv.setUint32(0, f.cause & 0xfff, true);
  rv.setUint32(4, ((f.ttyp & 0x3f) << 2) | ((f.did & 0xffffff) << 8), true);
  rv.setUint32(8, 0, true);
  rv.setUint32(12, 0, true);
  rv.setBigUint64(16, BigInt(f.iotval), true);
  rv.setBigUint64(24, BigInt(f.iotval2 ?? 0), true);
  const at = q.tail;
  if (!writeBytes(m, ppnAddress(q.base) + at * 32, record)) {
    q.csr |= QCSR_MF;
    raise(m, CAUSE.FQ);
    return 'queue error';
  }
  q.tail = (at + 1) % n;
  raise(m, CAUSE.FQ);
  return `queued at ${at}`;
}
