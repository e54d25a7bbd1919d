/**
 * A few RV64I instructions, assembled with labels: enough to write the small guest programs
 * the system emulator's tests run (a console, a timer, a loop for the debugger) as readable
 * source instead of hex. Encodings are the base ISA's formats; they were checked against
 * GNU as (`riscv64-linux-gnu-as`) once, by hand.
 */

/** An instruction word, raw bytes, a label, or an instruction that needs label addresses. */
export type Item =
  | number
  | { readonly label: string }
  | { readonly bytes: Uint8Array }
  | { readonly size: 4 | 8; readonly resolve: (pc: number, at: (l: string) => number) => number };

const reg = (r: number) => {
  if (!Number.isInteger(r) || r < 0 || r > 31) throw new Error(`bad register x${r}`);
  return r;
};
const fits = (v: number, bits: number) => v >= -(2 ** (bits - 1)) && v < 2 ** (bits - 1);

function iType(op: number, f3: number, rd: number, rs1: number, imm: number): number {
  if (!fits(imm, 12)) throw new Error(`immediate ${imm} does not fit 12 bits`);
  return (((imm & 0xfff) << 20) | (reg(rs1) << 15) | (f3 << 12) | (reg(rd) << 7) | op) >>> 0;
}
function sType(f3: number, rs2: number, rs1: number, imm: number): number {
  if (!fits(imm, 12)) throw new Error(`offset ${imm} does not fit 12 bits`);
  return (
    ((((imm >> 5) & 0x7f) << 25) |
      (reg(rs2) << 20) |
      (reg(rs1) << 15) |
      (f3 << 12) |
      ((imm & 0x1f) << 7) |
      0x23) >>>
    0
  );
}
function bType(f3: number, rs1: number, rs2: number, off: number): number {
  if (!fits(off, 13) || off % 2 !== 0) throw new Error(`branch offset ${off}`);
  return (
    ((((off >> 12) & 1) << 31) |
      (((off >> 5) & 0x3f) << 25) |
      (reg(rs2) << 20) |
      (reg(rs1) << 15) |
      (f3 << 12) |
      (((off >> 1) & 0xf) << 8) |
      (((off >> 11) & 1) << 7) |
      0x63) >>>
    0
  );
}
function jType(rd: number, off: number): number {
  if (!fits(off, 21) || off % 2 !== 0) throw new Error(`jump offset ${off}`);
  return (
    ((((off >> 20) & 1) << 31) |
      (((off >> 1) & 0x3ff) << 21) |
      (((off >> 11) & 1) << 20) |
      (((off >> 12) & 0xff) << 12) |
      (reg(rd) << 7) |
      0x6f) >>>
    0
  );
}

export const X = {
  zero: 0,
  ra: 1,
  sp: 2,
  t0: 5,
  t1: 6,
  t2: 7,
  s0: 8,
  s1: 9,
  a0: 10,
  a1: 11,
  a2: 12,
} as const;

export const lui = (rd: number, imm20: number) => ((imm20 & 0xfffff) << 12) | (reg(rd) << 7) | 0x37;
export const addi = (rd: number, rs1: number, imm: number) => iType(0x13, 0, rd, rs1, imm);
export const andi = (rd: number, rs1: number, imm: number) => iType(0x13, 7, rd, rs1, imm);
export const slli = (rd: number, rs1: number, sh: number) => iType(0x13, 1, rd, rs1, sh & 63);
export const add = (rd: number, rs1: number, rs2: number) =>
  ((reg(rs2) << 20) | (reg(rs1) << 15) | (reg(rd) << 7) | 0x33) >>> 0;
export const lbu = (rd: number, off: number, rs1: number) => iType(0x03, 4, rd, rs1, off);
export const lw = (rd: number, off: number, rs1: number) => iType(0x03, 2, rd, rs1, off);
export const ld = (rd: number, off: number, rs1: number) => iType(0x03, 3, rd, rs1, off);
export const sb = (rs2: number, off: number, rs1: number) => sType(0, rs2, rs1, off);
export const sw = (rs2: number, off: number, rs1: number) => sType(2, rs2, rs1, off);
export const sd = (rs2: number, off: number, rs1: number) => sType(3, rs2, rs1, off);
export const csrrs = (rd: number, csr: number, rs1: number) =>
  iType(0x73, 2, rd, rs1, 0) | (csr << 20);
export const csrrw = (rd: number, csr: number, rs1: number) =>
  iType(0x73, 1, rd, rs1, 0) | (csr << 20);
export const wfi = () => 0x10500073;

const branch =
  (f3: number) =>
  (rs1: number, rs2: number, label: string): Item => ({
    size: 4,
    resolve: (pc, at) => bType(f3, rs1, rs2, at(label) - pc),
  });
export const beq = branch(0);
export const bne = branch(1);
export const bltu = branch(6);
export const bgeu = branch(7);
export const jal = (rd: number, label: string): Item => ({
  size: 4,
  resolve: (pc, at) => jType(rd, at(label) - pc),
});
export const j = (label: string) => jal(0, label);

/** `li rd, imm` for a 32-bit signed value: `lui` + `addiw`, as GNU as expands it. */
export function li(rd: number, imm: number): Item[] {
  if (!fits(imm, 32)) throw new Error(`li ${imm}: 32 bits only`);
  if (fits(imm, 12)) return [addi(rd, 0, imm)];
  const lo = (imm << 20) >> 20;
  const hi = ((imm - lo) >>> 12) & 0xfffff;
  return lo === 0 ? [lui(rd, hi)] : [lui(rd, hi), iType(0x1b, 0, rd, rd, lo)];
}

/** `la rd, label`: `auipc` + `addi`, pc-relative. */
export function la(rd: number, label: string): Item[] {
  const split = (pc: number, at: (l: string) => number) => {
    const off = at(label) - pc;
    const lo = (off << 20) >> 20;
    return { hi: ((off - lo) >>> 12) & 0xfffff, lo };
  };
  return [
    { size: 4, resolve: (pc, at) => ((split(pc, at).hi << 12) | (reg(rd) << 7) | 0x17) >>> 0 },
    { size: 4, resolve: (pc, at) => addi(rd, rd, split(pc - 4, at).lo) },
  ];
}

export const label = (name: string): Item => ({ label: name });
export const ascii = (s: string): Item => ({ bytes: new Uint8Array(Buffer.from(s, 'latin1')) });
export const dword = (v: bigint): Item => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return { bytes: b };
};

/** Lays the items out from `base` and resolves labels; returns the image and the labels. */
export function assemble(
  items: readonly (Item | readonly Item[])[],
  base = 0x80000000,
): { image: Uint8Array; labels: Map<string, number> } {
  const flat = items.flat() as Item[];
  const labels = new Map<string, number>();
  let pc = base;
  for (const it of flat) {
    if (typeof it === 'number') pc += 4;
    else if ('label' in it) labels.set(it.label, pc);
    else if ('bytes' in it) pc += it.bytes.length;
    else pc += it.size;
  }
  const image = new Uint8Array(pc - base);
  const view = new DataView(image.buffer);
  const at = (l: string) => {
    const a = labels.get(l);
    if (a === undefined) throw new Error(`no label ${l}`);
    return a;
  };
  pc = base;
  for (const it of flat) {
    if (typeof it === 'number') {
      view.setUint32(pc - base, it >>> 0, true);
      pc += 4;
    } else if ('label' in it) continue;
    else if ('bytes' in it) {
      image.set(it.bytes, pc - base);
      pc += it.bytes.length;
    } else {
      view.setUint32(pc - base, it.resolve(pc, at) >>> 0, true);
      pc += it.size;
    }
  }
  return { image, labels };
}
