/**
 * An interrupt line: a named wire from a source (a device's output) to a sink (a controller
 * input, or a router such as PCI INTx swizzling). Levels are 0 or 1.
 *
 * A level-triggered source holds the line with `set`; an edge-triggered one `pulse`s it
 * (raise then lower), which sinks see as two changes. `set` with the current level does not
 * call the sink again: sinks see changes, not repeats.
 */
export type IrqSink = (level: 0 | 1) => void;

export type IrqTrigger = 'level' | 'edge';

export class IrqLine {
  level: 0 | 1 = 0;
  private sink: IrqSink | null = null;

  constructor(
    readonly name: string,
    readonly trigger: IrqTrigger = 'level',
  ) {}

  /** Wires the line to a sink (replacing any); the sink is told the current level at once if raised. */
  connect(sink: IrqSink | null): void {
    this.sink = sink;
    if (sink !== null && this.level === 1) sink(1);
  }

  set(level: number): void {
    const l: 0 | 1 = level ? 1 : 0;
    if (l === this.level) return;
    this.level = l;
    this.sink?.(l);
  }

  raise(): void {
    this.set(1);
  }

  lower(): void {
    this.set(0);
  }

  /** One edge: raise and lower again. */
  pulse(): void {
    this.set(1);
    this.set(0);
  }
}
