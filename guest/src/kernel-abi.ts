/**
 * Debian kernel ABIs (`7.2.13+deb14`, the part of `linux-image-7.2.13+deb14-riscv64` between
 * the prefix and the flavour) and the order in which `guest:fetch` tries them.
 *
 * The newest ABI >= 6.13 is tried first (6.13 is where the RISC-V IOMMU driver the reference
 * guest needs arrived, and 6.12 lacks it); the archive may list a kernel whose pool files are
 * gone, so every candidate is kept in order and the fetch falls back along the list.
 */

export interface KernelAbi {
  /** As Debian writes it: `7.2.13+deb14`. */
  readonly abi: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** What follows the numbers: `+deb14`, `+deb13.1`. */
  readonly suffix: string;
}

/** The oldest kernel the reference guest accepts. */
export const MIN_KERNEL = { major: 6, minor: 13 } as const;

export const KERNEL_FLAVOUR = 'riscv64';

/** Parses `7.2.13+deb14` (a trailing `-riscv64` is dropped); undefined if it is not an ABI. */
export function parseAbi(s: string): KernelAbi | undefined {
  const abi = s.endsWith(`-${KERNEL_FLAVOUR}`) ? s.slice(0, -KERNEL_FLAVOUR.length - 1) : s;
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?((?:[+~][A-Za-z0-9.+~]*)?)$/.exec(abi);
  if (!m) return undefined;
  return { abi, major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), suffix: m[4]! };
}

/** Newer first: by major, minor, patch, then the suffix with numbers compared as numbers. */
export function compareAbiNewestFirst(a: KernelAbi, b: KernelAbi): number {
  return (
    b.major - a.major ||
    b.minor - a.minor ||
    b.patch - a.patch ||
    b.suffix.localeCompare(a.suffix, 'en', { numeric: true })
  );
}

export function isRecentEnough(k: KernelAbi): boolean {
  return (
    k.major > MIN_KERNEL.major || (k.major === MIN_KERNEL.major && k.minor >= MIN_KERNEL.minor)
  );
}

/** ABIs named by package names such as `linux-image-7.2.13+deb14-riscv64` (others ignored). */
export function abisFromPackages(names: readonly string[]): KernelAbi[] {
  const out = new Map<string, KernelAbi>();
  for (const n of names) {
    const m = /^linux-image-(.+)-riscv64$/.exec(n.trim());
    const k = m ? parseAbi(m[1]!) : undefined;
    if (k) out.set(k.abi, k);
  }
  return [...out.values()];
}

export interface KernelPlan {
  /** ABIs to try, in order. */
  readonly order: readonly string[];
  /** The pinned ABI, if one was asked for and the archive lists it (it is tried first). */
  readonly pinListed: boolean;
}

/**
 * The order to try: the pin first if the archive lists it, then every ABI >= 6.13, newest
 * first. A pin below 6.13 is honoured: pinning says "this one", on purpose.
 */
export function planKernels(available: readonly KernelAbi[], pin?: string): KernelPlan {
  const pinned = pin === undefined ? undefined : parseAbi(pin)?.abi;
  const recent = available.filter(isRecentEnough).sort(compareAbiNewestFirst);
  const pinListed = pinned !== undefined && available.some((k) => k.abi === pinned);
  const order = recent.map((k) => k.abi).filter((abi) => abi !== pinned);
  return { order: pinListed ? [pinned!, ...order] : order, pinListed };
}
