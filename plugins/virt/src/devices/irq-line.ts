/**
 * An interrupt output of a device the machine builds itself: the setter the machine wired to
 * it (a hart's input, a PLIC source) and the level last driven, so the receiver hears only
 * changes.
 */

/** What the machine wires an output to: `CpuHandle.irq('mtip')`, `Plic.sourceSetter(10)`. */
export type IrqSetter = (level: 0 | 1) => void;

export class IrqLine {
  private current: 0 | 1 = 0;

  constructor(private readonly setter: IrqSetter) {}

  /** The level last driven. */
  get level(): 0 | 1 {
    return this.current;
  }

  /** Drives `level`; the setter is called only when it differs from the last one driven. */
  set(level: 0 | 1): void {
    if (level === this.current) return;
    this.current = level;
    this.setter(level);
  }

  /**
   * Drives `level` whatever was driven before. After a reset or a state load the receiver may
   * hold a level this line never drove (a fresh hart, a restored one), so the two are made to
   * agree.
   */
  force(level: 0 | 1): void {
    this.current = level;
    this.setter(level);
  }
}
