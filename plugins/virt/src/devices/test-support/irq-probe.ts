/**
 * Test support: an interrupt receiver that records what a device drove on one output: the
 * current level and every call in order (a device must call only on changes, so the history
 * alternates).
 */
export class IrqProbe {
  level: 0 | 1 = 0;
  readonly history: (0 | 1)[] = [];

  readonly set = (level: 0 | 1): void => {
    this.level = level;
    this.history.push(level);
  };

  /** Rising edges seen so far. */
  get raises(): number {
    return this.history.filter((l) => l === 1).length;
  }

  clear(): void {
    this.history.length = 0;
  }
}

/** `n` probes and their setters, for devices with one output per hart or context. */
export function probes(n: number): IrqProbe[] {
  return Array.from({ length: n }, () => new IrqProbe());
}
