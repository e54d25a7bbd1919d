/**
 * A CPU's registers as its GDB target description names them (`CpuDebug.targetXml`), so that
 * the monitor's `info registers` needs no architecture of its own: register names, numbers
 * and sizes come from the `<reg>` elements of `target.xml` and the files it includes, in
 * order, numbered as GDB numbers them (a `regnum` attribute, else one past the previous).
 */
import type { CpuDebug } from '@emuhost/sdk';

export interface RegisterInfo {
  readonly name: string;
  readonly regnum: number;
  readonly bitsize: number;
  /** The `<feature name>` it belongs to (`org.gnu.gdb.riscv.cpu`). */
  readonly feature: string;
}

export function registerList(debug: CpuDebug): RegisterInfo[] {
  const out: RegisterInfo[] = [];
  let next = 0;
  const walk = (file: string, depth: number) => {
    const text = debug.targetXml[file];
    if (text === undefined || depth > 4) return;
    let feature = '';
    const tags = /<(xi:include|feature|reg)\b([^>]*)>/g;
    for (let m = tags.exec(text); m !== null; m = tags.exec(text)) {
      const attrs = attributes(m[2]!);
      if (m[1] === 'xi:include' && attrs.href !== undefined) walk(attrs.href, depth + 1);
      else if (m[1] === 'feature') feature = attrs.name ?? '';
      else if (m[1] === 'reg' && attrs.name !== undefined) {
        const regnum = attrs.regnum === undefined ? next : Number(attrs.regnum);
        out.push({ name: attrs.name, regnum, bitsize: Number(attrs.bitsize ?? 64), feature });
        next = regnum + 1;
      }
    }
  };
  walk('target.xml', 0);
  return out;
}

function attributes(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([\w:-]+)\s*=\s*"([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** A register's value as hex of its size, or `?` when the CPU does not give it. */
export function registerHex(debug: CpuDebug, r: RegisterInfo): string {
  const b = debug.readRegister(r.regnum);
  if (b === undefined) return '?'.repeat(Math.max(1, r.bitsize / 4));
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v.toString(16).padStart(b.length * 2, '0');
}

/** Privilege levels by number, for architectures whose description has a `priv` register. */
const PRIV_NAMES: Readonly<Record<string, readonly string[]>> = {
  riscv: ['U', 'S', '?', 'M'],
};

/**
 * `info registers` for one CPU, in the layout of QEMU's register dump: the pc, the privilege
 * level, the core registers four to a line, then every other register.
 */
export function formatRegisters(debug: CpuDebug, title: string): string {
  const regs = registerList(debug);
  const arch = debug.gdbArch.split(':')[0]!;
  const lines = [title, ` ${'pc'.padEnd(8)} ${debug.pc.toString(16).padStart(16, '0')}`];
  const priv = regs.find((r) => r.name === 'priv');
  if (priv !== undefined) {
    const n = Number.parseInt(registerHex(debug, priv), 16);
    const name = PRIV_NAMES[arch]?.[n];
    lines.push(` ${'priv'.padEnd(8)} ${n}${name === undefined ? '' : ` (${name})`}`);
  }
  const core = regs[0]?.feature;
  const label = (r: RegisterInfo) =>
    r.feature === core && arch === 'riscv' && r.regnum < 32 ? `x${r.regnum}/${r.name}` : r.name;
  const rows = (list: RegisterInfo[]) => {
    for (let i = 0; i < list.length; i += 4)
      lines.push(
        list
          .slice(i, i + 4)
          .map((r) => ` ${label(r).padEnd(8)} ${registerHex(debug, r)}`)
          .join(''),
      );
  };
  const rest = regs.filter((r) => r.name !== 'pc' && r !== priv);
  rows(rest.filter((r) => r.feature === core));
  rows(rest.filter((r) => r.feature !== core));
  return lines.join('\n');
}
