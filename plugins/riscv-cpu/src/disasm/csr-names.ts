/**
 * CSR names: the standard unprivileged and privileged CSRs an RV64 M/S/U hart has, by number
 * (privileged spec 1.12 numbering), for the disassembler. Anything else prints as hex.
 */

const NAMED: readonly (readonly [number, string])[] = [
  // Unprivileged: floating point and counters.
  [0x001, 'fflags'],
  [0x002, 'frm'],
  [0x003, 'fcsr'],
  [0xc00, 'cycle'],
  [0xc01, 'time'],
  [0xc02, 'instret'],
  // Supervisor.
  [0x100, 'sstatus'],
  [0x104, 'sie'],
  [0x105, 'stvec'],
  [0x106, 'scounteren'],
  [0x10a, 'senvcfg'],
  [0x140, 'sscratch'],
  [0x141, 'sepc'],
  [0x142, 'scause'],
  [0x143, 'stval'],
  [0x144, 'sip'],
  [0x180, 'satp'],
  // Machine.
  [0x300, 'mstatus'],
  [0x301, 'misa'],
  [0x302, 'medeleg'],
  [0x303, 'mideleg'],
  [0x304, 'mie'],
  [0x305, 'mtvec'],
  [0x306, 'mcounteren'],
  [0x30a, 'menvcfg'],
  [0x320, 'mcountinhibit'],
  [0x340, 'mscratch'],
  [0x341, 'mepc'],
  [0x342, 'mcause'],
  [0x343, 'mtval'],
  [0x344, 'mip'],
  [0x7a0, 'tselect'],
  [0x7a1, 'tdata1'],
  [0x7a2, 'tdata2'],
  [0x7a3, 'tdata3'],
  [0xb00, 'mcycle'],
  [0xb02, 'minstret'],
  [0xf11, 'mvendorid'],
  [0xf12, 'marchid'],
  [0xf13, 'mimpid'],
  [0xf14, 'mhartid'],
  [0xf15, 'mconfigptr'],
];

function numbered(base: number, prefix: string, from: number, to: number) {
  const out: [number, string][] = [];
  for (let i = from; i <= to; i++) out.push([base + i, `${prefix}${i}`]);
  return out;
}

/** CSR number -> name. */
export const CSR_NAMES: ReadonlyMap<number, string> = new Map([
  ...NAMED,
  ...numbered(0x3a0, 'pmpcfg', 0, 15),
  ...numbered(0x3b0, 'pmpaddr', 0, 63),
  ...numbered(0x320, 'mhpmevent', 3, 31),
  ...numbered(0xb00, 'mhpmcounter', 3, 31),
  ...numbered(0xc00, 'hpmcounter', 3, 31),
]);

/** The CSR's name, or `0x` and its number in hex. */
export function csrName(csr: number): string {
  return CSR_NAMES.get(csr) ?? `0x${csr.toString(16)}`;
}
